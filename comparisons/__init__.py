"""The side-by-side comparison harness (run with ``python -m comparisons``)."""
