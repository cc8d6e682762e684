"""``python -m comparisons.speed``; see :func:`comparisons.speed.main`."""

import sys

from comparisons.speed import main

if __name__ == "__main__":
    sys.exit(main())
