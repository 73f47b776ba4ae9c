"""What the commands of `keras-cnn` share: the command's name and plain-text tables."""

PROG = "keras-cnn"


def text_table(rows, right=(), header=False):
    """Rows of strings as aligned plain-text columns (`right`: indices of right-aligned ones)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
