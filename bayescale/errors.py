"""Error types raised by bayescale.

Every problem with user input ends in a :class:`BayescaleError` whose message is
one line naming the offending column, value or name and saying what to do.
The CLI turns these into exit status 2 without a traceback.
"""

from __future__ import annotations


class BayescaleError(ValueError):
    """Base class for every error bayescale raises about user input."""


class DataError(BayescaleError):
    """The data (file, columns, values) cannot be used as given."""


class LawError(BayescaleError):
    """A law name, law file or formula is unknown, malformed or forbidden."""


class PriorError(BayescaleError):
    """A prior is unknown, misspelt or malformed."""


class FitError(BayescaleError):
    """A fit cannot be run or loaded with the given settings."""
