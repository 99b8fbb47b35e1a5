"""Entry point for ``python -m gan_helpers`` (see ``cli.entry``)."""

import sys

from .cli import entry

sys.exit(entry())
