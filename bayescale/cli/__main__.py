"""``python -m bayescale.cli``: the same as the ``bayescale`` command."""

import sys

from .main import main

sys.exit(main())
