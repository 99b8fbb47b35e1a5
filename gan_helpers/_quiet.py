"""Keep TensorFlow's harmless start-up lines out of the command line's output.

TensorFlow writes some lines (oneDNN, CUDA probing on a machine without a GPU, a Grappler remapper
note) straight to file descriptor 2 before its log level is read, so no setting hides them. The CLI
routes descriptor 2 through a filter that drops only those lines and passes everything else on, and
says so in one line of its normal output. It stays off when the user has set ``TF_CPP_MIN_LOG_LEVEL``
(then they see what they asked for) or passes ``--verbose``.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

HARMLESS = re.compile(
    r"absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc.*cuInit|cuda_executor\.cc|"
    r"cpu_feature_guard\.cc|port\.cc:\d+\] oneDNN custom operations|To enable the following instructions|"
    r"rebuild TensorFlow with the appropriate|remapper failed: INVALID_ARGUMENT: Mutation::Apply error|"
    r"computation placer already registered|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"oneDNN supports DT_INT32 only on platforms with AVX-512")
NOTE = ("TensorFlow's start-up notes (oneDNN, CUDA probing) are hidden; they are harmless. "
        "--verbose shows them.")
STATE = {"active": False, "hidden": 0}   # the CLI prints NOTE on stdout when lines were hidden


def hide_tensorflow_startup_lines() -> bool:
    """Filter descriptor 2 for the rest of the process (call before TensorFlow is imported).
    Returns False, and changes nothing, if the user set ``TF_CPP_MIN_LOG_LEVEL`` or the platform
    has no pipes."""
    from . import USER_SET_TF_LOG_LEVEL

    if USER_SET_TF_LOG_LEVEL:
        return False
    try:
        original = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:                                  # pragma: no cover - exotic platforms
        return False
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    STATE["active"] = True

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if HARMLESS.search(line.decode("utf-8", "replace")):
                    STATE["hidden"] += 1   # said once on stdout by the CLI, so that an error stays one line
                    continue
                os.write(original, line)

    thread = threading.Thread(target=pump, name="gan_helpers-stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):               # pragma: no cover
            pass
        os.dup2(original, 2)                         # closes the pipe's last write end: EOF
        thread.join(timeout=2)

    atexit.register(restore)
    return True
