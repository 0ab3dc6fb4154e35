"""bayescale: Bayesian neural scaling laws with PyMC.

Fit a scaling law to a handful of small runs, get posteriors for its
exponents, irreducible loss and breaks, and forecast at a target scale with
credible intervals for both the expected value and a new observation.

>>> import bayescale as bs
>>> df = bs.simulate(law="power_law_offset", seed=1)           # doctest: +SKIP
>>> f = bs.fit(df, law="power_law_offset", x="x", y="y")        # doctest: +SKIP
>>> f.forecast(x=[1e6], prob=0.9).table()                       # doctest: +SKIP
"""

from ._version import __version__  # noqa: E402

from .errors import BayescaleError, DataError, FitError, LawError, PriorError  # noqa: E402
from .spec.laws import Law, get_law, list_laws, load_law, make_law  # noqa: E402
from .spec.data import Dataset, load_data, data_dir  # noqa: E402
from .spec.likelihoods import LIKELIHOODS, Likelihood, get_likelihood  # noqa: E402
from .spec.resolve import resolve_priors  # noqa: E402
from .inference.model import build_model  # noqa: E402
from .inference.config import FitConfig  # noqa: E402
from .inference.fit import Fit, Forecast, PooledFit, fit, load, refit  # noqa: E402
from .simulate import simulate, TRUE_PARAMS  # noqa: E402
from .prior_predictive import prior_predictive  # noqa: E402

__all__ = [
    "BayescaleError", "DataError", "FitError", "LawError", "PriorError",
    "Law", "get_law", "list_laws", "load_law", "make_law",
    "Dataset", "load_data", "data_dir", "build_model", "resolve_priors",
    "Fit", "Forecast", "FitConfig", "PooledFit", "fit", "refit", "load", "simulate", "TRUE_PARAMS",
    "LIKELIHOODS", "Likelihood", "get_likelihood",
    "prior_predictive", "optimal_allocation", "isoflop_data", "Comparison", "compare", "ManyResult", "fit_many",
    "__version__",
]
from .inference.allocation import optimal_allocation, isoflop_data  # noqa: E402,F401
from .evaluate.compare import Comparison, compare  # noqa: E402,F401
from .evaluate.many import ManyResult, fit_many  # noqa: E402,F401
from .inference.chain import Chained, chain  # noqa: E402,F401  (scale -> loss -> metric)
