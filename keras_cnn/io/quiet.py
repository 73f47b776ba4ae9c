"""Keeping the native libraries' chatter off a successful command's console.

TensorFlow's converter and LiteRT write lines such as "fully_quantize: 0, inference_type: 6"
and "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to the process's standard
error, below Python. `native_stderr()` catches file descriptor 2 inside a block and passes on
only the lines that are not such chatter, so warnings and errors still reach the user.
"""

import contextlib
import os
import sys
import tempfile

#: lines that report routine work, not a problem
CHATTER = ("fully_quantize:", "Created TensorFlow Lite XNNPACK delegate",
           "Statistics for quantized inputs were expected", "warnings.warn(",
           "Estimated count of arithmetic ops", "All log messages before absl::InitializeLog()",
           # the converter's graph of a segmenter (a Cast folded into an Identity that keeps
           # the Cast's attribute): TensorFlow itself says the attribute is ignored
           "NodeDef mentions attribute Truncate which is not in the op definition")


@contextlib.contextmanager
def native_stderr(chatter=CHATTER):
    """Inside the block, standard error (Python's and the native libraries') is held back;
    at its end, every line that does not contain one of `chatter` is written out."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(text in line for text in chatter):
                    sys.stderr.write(line)
