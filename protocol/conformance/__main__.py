"""``python -m protocol.conformance``: see :mod:`protocol.conformance.cli`."""

import sys

from .cli import main

sys.exit(main())
