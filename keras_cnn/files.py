"""Writing files so that a failure or an interrupt never leaves a half-written one."""

import os
import shutil
import tempfile


def write_atomically(path, data):
    """Write `data` (bytes, or text kept with its own newlines) to a temporary file next to
    `path`, then rename it over `path`. An existing file keeps its permissions."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".keras-cnn-")
    try:
        if isinstance(data, str):
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(data)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
