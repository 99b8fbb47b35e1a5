"""Entry point for ``python -m gan_helpers``."""

import os
import sys

from . import USER_SET_TF_LOG_LEVEL
from ._quiet import hide_tensorflow_startup_lines

if "--verbose" in sys.argv[1:]:   # bring TensorFlow's start-up and log lines back
    if not USER_SET_TF_LOG_LEVEL:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
else:
    hide_tensorflow_startup_lines()  # before TensorFlow is imported

from .cli import main  # noqa: E402

sys.exit(main())
