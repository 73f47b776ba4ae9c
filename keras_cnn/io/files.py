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


def replace_section(path, text, start_marker, end_marker):
    """Replace the lines between the marker lines in the file `path` with `text`, atomically.

    Raises ValueError, leaving the file unchanged, unless each marker is on a line of its own,
    exactly once, start before end.
    """
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    starts, ends = stripped.count(start_marker), stripped.count(end_marker)
    if starts != 1 or ends != 1 or stripped.index(start_marker) > stripped.index(end_marker):
        raise ValueError(f"{path} must have one line {start_marker} and, below it, one line "
                         f"{end_marker}. Received: {starts} start and {ends} end marker line(s)"
                         f"{' in the wrong order' if starts == ends == 1 else ''}.")
    start, end = stripped.index(start_marker), stripped.index(end_marker)
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    section = newline + text.replace("\n", newline) + newline + newline
    write_atomically(path, "".join(lines[:start + 1]) + section + "".join(lines[end:]))


def publish_table(table, readme, name):
    """Print a benchmark's markdown `table` and, with a `readme` path, write it between the lines
    <!-- name:start --> and <!-- name:end --> of that file. Returns 0 (the exit status)."""
    print(table)
    if readme:
        replace_section(readme, table, f"<!-- {name}:start -->", f"<!-- {name}:end -->")
    return 0
