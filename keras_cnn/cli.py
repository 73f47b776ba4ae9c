"""The `keras-cnn` command: list the registered models, inspect one, print the model zoo table.

    keras-cnn list [PATTERN] [--family F]
    keras-cnn info NAME [--input-size N]
    keras-cnn zoo [--pattern P] [--readme PATH]

Errors (unknown model, bad option, README without markers) print one line on stderr and exit 2.
"""

import argparse
import re
import sys

import keras_cnn
from keras_cnn import backend
from keras_cnn.files import write_atomically
from keras_cnn.registry import KERAS_CONVENTION, count_params

PROG = "keras-cnn"
ZOO_START = "<!-- zoo:start -->"
ZOO_END = "<!-- zoo:end -->"
DASH = "—"


def main(argv=None):
    """Run the command in `argv` (default: sys.argv[1:]); return 0, or exit 2 on an error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as err:
        parser.exit(2, f"{PROG}: error: {err}\n")
    return 0


def build_parser():
    """The argument parser, one subcommand per command."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="one line per registered model")
    listing.add_argument("pattern", nargs="?", metavar="PATTERN",
                         help='shell-style name pattern, e.g. "vgg*"')
    listing.add_argument("--family", choices=_families(), help="only this family")
    listing.set_defaults(run=run_list)

    info = commands.add_parser("info", help="a model's metadata and layers, built and counted")
    info.add_argument("name", metavar="NAME", help="a registered model name, e.g. lenet5")
    info.add_argument("--input-size", type=int_at_least(1), metavar="N",
                      help="build at NxN (default: the model's default size)")
    info.set_defaults(run=run_info)

    zoo = commands.add_parser("zoo", help="a markdown table of the registered models")
    zoo.add_argument("--pattern", metavar="P", help='only the models matching P, e.g. "lenet*"')
    zoo.add_argument("--readme", metavar="PATH",
                     help=f"write the table between the lines {ZOO_START} and {ZOO_END} of PATH")
    zoo.set_defaults(run=run_zoo)
    return parser


# --- list -------------------------------------------------------------------------------------

def run_list(args):
    """Print name, family, published parameters and default input size of the matching models."""
    rows = [(info.name, info.family, f"{_number(info.params)} params", _input_text(info))
            for info in map(keras_cnn.model_info, _matching(args.pattern, args.family))]
    print(_text_table(rows, right={2}))


# --- info -------------------------------------------------------------------------------------

def run_info(args):
    """Print a model's metadata, its built parameter count against the paper's, and its layers."""
    info = keras_cnn.model_info(args.name)
    size = info.default_size if args.input_size is None else args.input_size
    model = keras_cnn.create_model(info.name, input_shape=info.input_shape(size))
    built = count_params(model, info.params_convention)

    summary = info.description or (info.builder.__doc__ or "").strip().split("\n")[0]
    print(f"{info.name}: {summary}" if summary else info.name)
    print(f"  paper:            {info.paper}")
    print(f"  family:           {info.family}")
    print(f"  input size:       {_input_text(info)} (default), at least "
          f"{info.min_size}x{info.min_size}")
    print(f"  published params: {_number(info.params)} ({info.params_convention} convention)"
          f"{_source(info.params_source)}")
    macs = DASH if info.macs is None else f"{info.macs:,} ({_short_macs(info.macs)})"
    print(f"  published MACs:   {macs}{_source(info.macs_source)}")
    print(f"  built params:     {built:,} ({info.params_convention} convention, at "
          f"{_input_text(info, size)}, {info.num_classes} classes)")
    print(f"  check:            {_comparison(info, built, size)}")
    print()
    rows = [("layer", "type", "output shape", "params")]
    rows += [(layer.name, type(layer).__name__, _shape_text(layer.output.shape),
              f"{layer.count_params():,}") for layer in model.layers]
    rows.append(("total", "", "", f"{model.count_params():,}"))
    print(_text_table(rows, right={3}, header=True))
    if info.params_convention != KERAS_CONVENTION:
        print("(the layer counts include the BatchNormalization moving statistics, as Keras "
              "counts them)")


def _comparison(info, built, size):
    """Whether `built` parameters match the published figure, and if not, by how much."""
    if info.params is None:
        return "no published figure to compare with"
    if built == info.params:
        return f"matches the published {info.params:,}"
    note = "" if size == info.default_size else f" (published at {_input_text(info)})"
    return f"differs from the published {info.params:,} by {built - info.params:+,}{note}"


# --- zoo --------------------------------------------------------------------------------------

def run_zoo(args):
    """Print the zoo table, or write it into the marked section of a README."""
    names = _matching(args.pattern)
    table = zoo_table(names)
    if args.readme is None:
        print(table)
    else:
        replace_section(args.readme, table)
        print(f"updated the zoo table in {args.readme} ({len(names)} models)")


def zoo_table(names):
    """A markdown table of `names`: parameters as built at the default size (in each model's
    convention), published MACs, default input size and paper."""
    rows = []
    for name in names:
        info = keras_cnn.model_info(name)
        params = f"{_params_at_default_size(info):,}"
        backend.keras().backend.clear_session()  # free each model's weights before the next
        if info.params_convention != KERAS_CONVENTION:
            params += " †"
        rows.append(f"| {name} | {info.family} | {params} | {_short_macs(info.macs)} | "
                    f"{_input_text(info)} | {short_paper(info.paper)} |")
    lines = ["| model | family | params | MACs | input | paper |",
             "|---|---|---:|---:|---|---|", *rows]
    if any(" †" in row for row in rows):
        lines += ["", "† without the BatchNormalization moving statistics (as papers and "
                      "PyTorch count them)."]
    return "\n".join(lines)


def _params_at_default_size(info):
    """The parameters of the model built at its default size, in its convention."""
    model = keras_cnn.create_model(info.name, input_shape=info.input_shape())
    return count_params(model, info.params_convention)


def replace_section(path, text):
    """Replace the lines between ZOO_START and ZOO_END in the file `path` with `text`, atomically.

    Raises ValueError, leaving the file unchanged, unless each marker is on a line of its own,
    exactly once, start before end.
    """
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    starts, ends = stripped.count(ZOO_START), stripped.count(ZOO_END)
    if starts != 1 or ends != 1 or stripped.index(ZOO_START) > stripped.index(ZOO_END):
        raise ValueError(f"{path} must have one line {ZOO_START} and, below it, one line "
                         f"{ZOO_END}. Received: {starts} start and {ends} end marker line(s)"
                         f"{' in the wrong order' if starts == ends == 1 else ''}.")
    start, end = stripped.index(ZOO_START), stripped.index(ZOO_END)
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    section = newline + text.replace("\n", newline) + newline + newline
    write_atomically(path, "".join(lines[:start + 1]) + section + "".join(lines[end:]))


def short_paper(paper):
    """"LeCun et al. 1998" from "Y. LeCun, L. Bottou, ... Proc. IEEE 86(11), 1998"."""
    author = re.match(r"(?:[A-Z][a-z]?\.[\s-]*)*([^,.]+)(,?)", paper)
    year = re.search(r"\b(?:19|20)\d\d\b", paper)
    if author is None:
        return DASH
    words = [author.group(1).strip(), "et al." if author.group(2) else "", year and year.group()]
    return " ".join(w for w in words if w)


# --- helpers ----------------------------------------------------------------------------------

def _matching(pattern=None, family=None):
    """The registry names matching `pattern` and `family`; ValueError when there are none."""
    names = keras_cnn.list_models(pattern, family=family)
    if not names:
        raise ValueError(f"No registered model matches pattern={pattern!r}"
                         f"{f' in family {family!r}' if family else ''}. Registered: "
                         f"{', '.join(keras_cnn.list_models())}.")
    return names


def _families():
    return sorted({keras_cnn.model_info(name).family for name in keras_cnn.list_models()})


def _input_text(info, size=None):
    size = info.default_size if size is None else size
    return f"{size}x{size}x{info.input_channels}"


def _number(value):
    return DASH if value is None else f"{value:,}"


def _short_macs(macs):
    """1_135_256_096 -> "1.14 G", 416_520 -> "0.417 M", None -> "—"."""
    if macs is None:
        return DASH
    return f"{macs / 1e9:.3g} G" if macs >= 1e9 else f"{macs / 1e6:.3g} M"


def _source(source):
    return f" — {source}" if source else ""


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _text_table(rows, right=(), header=False):
    """Rows of strings as aligned plain-text columns (`right`: indices of right-aligned ones)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def int_at_least(minimum):
    """An argparse type: an integer >= `minimum`."""
    def parse(text):
        if not re.fullmatch(r"[+-]?\d+", text.strip()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. "
                                             f"Received: {text!r}")
        return int(text)
    return parse


if __name__ == "__main__":
    sys.exit(main())
