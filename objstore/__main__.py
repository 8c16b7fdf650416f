"""Owns ``python -m objstore``: runs the command line, :mod:`objstore.cli` (no library code here)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
