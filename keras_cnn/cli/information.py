"""The commands that describe the models and recipes: `keras-cnn list`, `info`, `zoo` and
`recipes`.
"""

import sys

from keras_cnn.analysis import zoo
from keras_cnn.analysis.profile import profile
from keras_cnn.analysis.zoo import DASH, input_text, short_macs
from keras_cnn.cli.common import text_table
from keras_cnn.core.registry import (KERAS_CONVENTION, count_params, create_model, list_models,
                                     model_info)
from keras_cnn.io.files import replace_section


# --- list -------------------------------------------------------------------------------------

def run_list(args):
    """Print name, family, published parameters and default input size of the matching models."""
    rows = [(info.name, info.family, f"{_number(info.params)} params", input_text(info))
            for info in map(model_info, _matching(args.pattern, args.family))]
    print(text_table(rows, right={2}))


# --- info -------------------------------------------------------------------------------------

def run_info(args):
    """Print a model's metadata, its built parameters and MACs against the paper's, and its
    per-layer profile (keras_cnn.profile)."""
    info = model_info(args.name)
    size = info.default_size if args.input_size is None else args.input_size
    model = create_model(info.name, input_shape=info.input_shape(size))
    report = profile(model, batch_size=args.batch_size)
    if args.format != "text":
        print(getattr(report, f"to_{args.format}")().rstrip("\n"))
        return
    built = count_params(model, info.params_convention)
    per_image = report.totals.macs // args.batch_size

    summary = info.description or (info.builder.__doc__ or "").strip().split("\n")[0]
    print(f"{info.name}: {summary}" if summary else info.name)
    print(f"  paper:            {info.paper}")
    print(f"  family:           {info.family}")
    print(f"  input size:       {input_text(info)} (default), at least "
          f"{info.min_size}x{info.min_size}")
    print(f"  published params: {_number(info.params)} ({info.params_convention} convention)"
          f"{_source(info.params_source)}")
    macs = DASH if info.macs is None else f"{info.macs:,} ({short_macs(info.macs)})"
    print(f"  published MACs:   {macs}{_source(info.macs_source)}")
    print(f"  built params:     {built:,} ({info.params_convention} convention, at "
          f"{input_text(info, size)}, {info.num_classes} classes)")
    print(f"  check:            {_comparison(info, built, size)}")
    print(f"  built MACs:       {per_image:,} ({short_macs(per_image)}) a {size}x{size} "
          f"image{_macs_comparison(info, per_image, size)}")
    print(f"  activations:      {report.totals.activations:,} values, "
          f"{report.totals.activation_bytes / 2**20:.1f} MiB for a batch of {args.batch_size} "
          "(forward pass, every layer's output kept)")
    print()
    print(report.to_text())
    if info.params_convention != KERAS_CONVENTION:
        print("(params include the BatchNormalization moving statistics, as Keras counts them)")


def _macs_comparison(info, macs, size):
    if info.macs is None or size != info.default_size:
        return ""
    return f", {100 * (macs - info.macs) / info.macs:+.1f}% from the published figure"


def _comparison(info, built, size):
    """Whether `built` parameters match the published figure, and if not, by how much."""
    if info.params is None:
        return "no published figure to compare with"
    if built == info.params:
        return f"matches the published {info.params:,}"
    note = "" if size == info.default_size else f" (published at {input_text(info)})"
    return f"differs from the published {info.params:,} by {built - info.params:+,}{note}"


# --- zoo --------------------------------------------------------------------------------------

def run_zoo(args):
    """Print the zoo table, or write it into the marked section of a README; draw the chart."""
    names = _matching(args.pattern)
    if args.chart is not None and not args.chart.lower().endswith(".png"):
        raise ValueError(f"--chart must name a .png file. Received: {args.chart!r}")
    entries = []
    for i, name in enumerate(names, 1):  # minutes for the whole zoo: say where it is
        print(f"\rbuilding and profiling {i}/{len(names)}: {name:<40}", end="", file=sys.stderr,
              flush=True)
        entries.append(zoo.zoo_entry(name))
    print(file=sys.stderr)
    table = zoo.zoo_table(entries)
    if args.readme is None:
        print(table)
    else:
        replace_section(args.readme, table, zoo.START, zoo.END)
        print(f"updated the zoo table in {args.readme} ({len(names)} models)")
    if args.chart is not None:
        plotted = zoo.zoo_chart(entries, args.chart)
        print(f"wrote {args.chart} ({plotted} models with a published top-1)")


# --- recipes ----------------------------------------------------------------------------------

def run_recipes(args):
    """Print each recipe: name, model, paper's epochs and batch, and the paper's result (or,
    with --markdown, the whole table of hyperparameters)."""
    from keras_cnn.train import recipes, scene_recipes
    if args.markdown:
        print(recipes.markdown_table())
        return
    rows = [(r.name, r.model, f"{r.epochs} epochs", f"batch {r.batch_size}", r.reported)
            for r in map(recipes.get_recipe, recipes.list_recipes())]
    print(text_table(rows))
    print("\nsegmentation and detection on the built-in digit scenes:")
    print(text_table([(r.name, r.model, f"{r.epochs} epochs", f"batch {r.batch_size}",
                       r.reported) for r in scene_recipes.SCENE_RECIPES.values()]))


# --- helpers ----------------------------------------------------------------------------------

def _matching(pattern=None, family=None):
    """The registry names matching `pattern` and `family`; ValueError when there are none."""
    if family is not None and family not in _families():
        raise ValueError(f"Unknown family {family!r}. Families: {', '.join(_families())}.")
    names = list_models(pattern, family=family)
    if not names:
        raise ValueError(f"No registered model matches pattern={pattern!r}"
                         f"{f' in family {family!r}' if family else ''}. Registered: "
                         f"{', '.join(list_models())}.")
    return names


def _families():
    return sorted({model_info(name).family for name in list_models()})


def _number(value):
    return DASH if value is None else f"{value:,}"


def _source(source):
    return f" — {source}" if source else ""
