"""Writing files so that a failure or an interrupt never leaves a half-written one."""

import contextlib
import os
import shutil
import tempfile


def _read_umask():
    mask = os.umask(0o022)  # (reading the umask means setting it: done once, at import)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
TEMPORARY_PREFIX = ".keras-cnn-"  # a file left with it was being written when a process died


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path next to `path`, ending like it (`.keras`, `.weights.h5`, ...), for a
    writer that takes a file name (`model.save`): when the block ends the file is renamed over
    `path`; after an error or an interrupt it is removed and `path` is as it was. An existing
    file keeps its permissions; a new one gets the mode an ordinary `open` would give it."""
    path = os.fspath(path)
    name = os.path.basename(path)
    suffix = name[name.index("."):] if "." in name.lstrip(".") else ""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=TEMPORARY_PREFIX,
                               suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        else:  # 0644 with the usual umask, not mkstemp's 0600
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomically(path, data):
    """Write `data` (bytes, or text kept with its own newlines) to a temporary file next to
    `path`, then rename it over `path` (see `atomic_path`). Returns `path`."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(data)
        else:
            with open(tmp, "wb") as f:
                f.write(data)
    return os.fspath(path)
