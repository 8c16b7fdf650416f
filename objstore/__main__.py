"""``python -m objstore``: the ``objstore`` command line (see :mod:`objstore.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
