"""Owns ``python -m objstore.cli``: runs :func:`objstore.cli.main`; nothing else belongs here."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
