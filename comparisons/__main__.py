"""``python -m comparisons``; see :mod:`comparisons._cli`."""

import sys

from comparisons._cli import main

sys.exit(main())
