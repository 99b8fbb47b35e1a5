"""Entry point for ``python -m gan_helpers``."""

import sys

from .cli import main

sys.exit(main())
