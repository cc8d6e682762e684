"""The side-by-side comparison harness (run with ``python -m comparisons``).

From Python: :func:`compare` benchmarks the attribution methods on a trained model and your
data and returns the tidy result rows; :func:`load_results` reads any run folder's rows.
"""

from comparisons._api import compare, load_results

__all__ = ["compare", "load_results"]
