"""Entry point for ``python -m gan_helpers``."""

import sys

from ._quiet import hide_tensorflow_startup_lines

hide_tensorflow_startup_lines()  # before TensorFlow is imported

from .cli import main  # noqa: E402

sys.exit(main())
