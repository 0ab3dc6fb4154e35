"""The HTML report rendered in real headless Chromium: figures load, tables are there, the page isn't blank.

Needs Debian's ``chromium`` (``.ci/install-chromium`` installs it); skips, saying so, where it cannot be
found.  ``$CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bayescale.present.report import write_report

# Run after load: count images, broken images (not decoded: naturalWidth 0), tables and sections,
# and write the counts on <body> where --dump-dom shows them.
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var b = document.body;
  b.setAttribute('data-imgs', imgs.length);
  b.setAttribute('data-broken', imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length);
  b.setAttribute('data-min-width', Math.min.apply(null, imgs.map(function (i) { return i.naturalWidth; })));
  b.setAttribute('data-tables', document.querySelectorAll('table tbody tr').length);
  b.setAttribute('data-probe', 'done');
});
</script>"""


def _chromium() -> str | None:
    for c in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if c and shutil.which(c):
            return shutil.which(c)
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found (install it with .ci/install-chromium, or set $CHROMIUM)")


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,4000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tiny_fit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    report = write_report(tiny_fit, path=tmp / "report.html", targets=[1e7, 3e7])
    probed = tmp / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    return tmp, report, probed


def test_report_renders_with_every_image_decoded(page):
    tmp, report, probed = page
    r = _run(["--virtual-time-budget=5000", "--dump-dom", probed.as_uri()], tmp)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"<body[^>]*>", r.stdout)
    assert m, "no <body> in the dumped DOM"
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(0)))
    assert attrs.get("probe") == "done", f"probe script did not run: {m.group(0)[:300]}"
    assert int(attrs["imgs"]) == 2  # fit and prior/posterior
    assert int(attrs["broken"]) == 0
    assert int(attrs["min-width"]) > 300
    assert int(attrs["tables"]) >= 2 + 4  # forecast rows + one row per parameter
    dom = r.stdout
    for sid in ("warnings", "fit", "forecast", "parameters", "priors"):
        assert f'id="{sid}"' in dom


def test_screenshot_is_not_blank(page):
    from PIL import Image

    tmp, report, _ = page
    shot = tmp / "shot.png"
    r = _run([f"--screenshot={shot}", report.as_uri()], tmp)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    im = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    assert im.shape[0] >= 3000 and im.shape[1] >= 1200
    nonwhite = (im.sum(axis=2) < 700).mean()
    assert nonwhite > 0.02, f"page looks blank ({nonwhite:.1%} non-white pixels)"
    # the warnings box is drawn in red near the top (the tiny fit fails its ESS check)
    top = im[:800]
    red = (top[..., 0] > 150) & (top[..., 1] < 90) & (top[..., 2] < 90)
    assert red.sum() > 200, "no red warnings box near the top of the page"
