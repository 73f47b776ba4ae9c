"""The zoo: every registered model built at its paper's size and profiled, as a markdown table
and a chart of ImageNet top-1 against multiply-accumulates (`keras-cnn zoo`, `make zoo`).

    entries = [zoo_entry(name) for name in keras_cnn.list_models()]
    print(zoo_table(entries))
    zoo_chart(entries, "docs/zoo.png")
"""

import dataclasses
import re

from keras_cnn.analysis.accuracy import published_accuracy
from keras_cnn.analysis.profile import profile
from keras_cnn.core import backend
from keras_cnn.core.registry import KERAS_CONVENTION, count_params, create_model, model_info
from keras_cnn.io.files import write_atomically

DASH = "\u2014"
START, END = "<!-- zoo:start -->", "<!-- zoo:end -->"  # the table's place in README.md


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo: built at its default size with 1000 (or its default) classes."""

    info: object            # the ModelInfo
    params: int             # in the published figure's convention
    macs: int               # keras_cnn.profile's count for one image
    accuracy: object        # keras_cnn.analysis.accuracy.Accuracy or None


def zoo_entry(name):
    """Build `name` at its default size and profile it."""
    info = model_info(name)
    model = create_model(info.name, input_shape=info.input_shape())
    entry = ZooEntry(info, count_params(model, info.params_convention),
                     profile(model).totals.macs, published_accuracy(name))
    backend.keras().backend.clear_session()  # free each model's weights before the next
    return entry


def zoo_table(entries):
    """A markdown table: parameters and MACs as built and profiled at the default size,
    default input size, the paper's ImageNet top-1/top-5 with its source, and the paper."""
    rows = []
    for e in entries:
        params = f"{e.params:,}" + (" †" if e.info.params_convention != KERAS_CONVENTION else "")
        acc = e.accuracy
        top1, top5 = (DASH, DASH) if acc is None else (_percent(acc.top1), _percent(acc.top5))
        rows.append(f"| {e.info.name} | {e.info.family} | {params} | {short_macs(e.macs)} | "
                    f"{input_text(e.info)} | {top1} | {top5} | "
                    f"{acc.source if acc else DASH} | {short_paper(e.info.paper)} |")
    lines = ["| model | family | params | MACs | input | top-1 | top-5 | accuracy source | paper |",
             "|---|---|---:|---:|---|---:|---:|---|---|", *rows]
    if any(" †" in row for row in rows):
        lines += ["", "† without the BatchNormalization moving statistics (as papers and "
                      "PyTorch count them)."]
    return "\n".join(lines)


def zoo_chart(entries, path):
    """Draw top-1 against MACs (log scale) for the entries with a published top-1 into the PNG
    file `path`, atomically; return how many models it shows."""
    import io

    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = [e for e in entries if e.accuracy is not None and e.accuracy.top1 is not None]
    families = sorted({e.info.family for e in shown})
    colours = plt.get_cmap("tab20")
    figure, axes = plt.subplots(figsize=(12, 7.5), dpi=100)
    for i, family in enumerate(families):
        group = [e for e in shown if e.info.family == family]
        axes.scatter([e.macs / 1e9 for e in group], [e.accuracy.top1 for e in group],
                     s=[max(e.params / 1e6, 1) * 6 for e in group], color=colours(i % 20),
                     alpha=0.6, edgecolors="black", linewidths=0.5, label=family)
        for e in group:
            axes.annotate(e.info.name, (e.macs / 1e9, e.accuracy.top1), fontsize=6,
                          xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("multiply-accumulates per image (G, log scale; keras_cnn.profile at the "
                    "default input size)")
    axes.set_ylabel("ImageNet top-1 accuracy (%, as each paper reports it)")
    axes.set_title("keras_cnn zoo: accuracy against operations (marker area ~ parameters)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2, loc="lower right", markerscale=0.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    write_atomically(path, buffer.getvalue())
    return len(shown)


def _percent(value):
    return DASH if value is None else f"{value:.1f}"


def short_paper(paper):
    """"LeCun et al. 1998" from "Y. LeCun, L. Bottou, ... Proc. IEEE 86(11), 1998"."""
    author = re.match(r"(?:[A-Z][a-z]?\.[\s-]*)*([^,.]+)(,?)", paper)
    year = re.search(r"\b(?:19|20)\d\d\b", paper)
    if author is None:
        return DASH
    words = [author.group(1).strip(), "et al." if author.group(2) else "", year and year.group()]
    return " ".join(w for w in words if w)


def input_text(info, size=None):
    """"224x224x3": the input of `info` (a ModelInfo) at `size` (default: its paper's)."""
    size = info.default_size if size is None else size
    return f"{size}x{size}x{info.input_channels}"


def short_macs(macs):
    """1_135_256_096 -> "1.14 G", 416_520 -> "0.417 M", None -> "—"."""
    if macs is None:
        return DASH
    return f"{macs / 1e9:.3g} G" if macs >= 1e9 else f"{macs / 1e6:.3g} M"
