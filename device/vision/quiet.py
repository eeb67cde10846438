"""Silence native libraries' stderr chatter (mediapipe's absl/TFLite, libpng) around a block of work."""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block; Python's own sys.stderr is restored after.

    mediapipe writes INFO/WARNING lines from its C++ threads straight to fd 2, which a command-line
    user should not have to read. Real errors still surface as Python exceptions.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
