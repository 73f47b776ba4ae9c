"""The package's layout: imports run one way between its sub-packages, and no module imports
itself back through others (docs/architecture.md, "What may import what").

Every module under keras_cnn/ is parsed with `ast`; its imports at module level and inside
functions alike are checked, without importing anything (no TensorFlow: this takes a second).
"""

import argparse
import ast
import importlib
from pathlib import Path

import pytest

import keras_cnn_cli

PACKAGE = Path(__file__).resolve().parents[1] / "keras_cnn"

#: Each sub-package imports only from the sub-packages of a lower rank (and from itself).
#: analysis, convert and train share a rank: none imports another.
RANKS = {"core": 0, "io": 1, "layers": 2, "models": 3, "dense": 4, "analysis": 5, "convert": 5,
         "train": 5, "mobile": 6, "cli": 7}


def modules(root=PACKAGE, package="keras_cnn"):
    """{dotted module name: path} of every module under `root` (a package is its __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = (package, *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name, path, known):
    """The names of the modules that module `name` imports (at any depth of its code), each
    resolved to a module of `known` where it names one: `from keras_cnn.core import backend` is
    keras_cnn.core.backend; `from keras_cnn.core.registry import create_model` is
    keras_cnn.core.registry."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from its package (or that package's parents)
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.add(candidate if candidate in known else module)
    return found


def graph(root=PACKAGE, package="keras_cnn"):
    """{module: the package's modules and outside modules it imports}."""
    known = modules(root, package)
    return {name: imports(name, path, known) for name, path in known.items()}


def subpackage(module, package="keras_cnn"):
    """The sub-package of `module` ("core", ...); None for the package's own __init__ and for
    modules outside the package."""
    parts = module.split(".")
    if parts[0] != package or len(parts) < 2:
        return None
    return parts[1]


def direction_violations(edges, package="keras_cnn"):
    """The imports that go against RANKS, as "importer -> imported: why" lines."""
    bad = []
    for importer, targets in sorted(edges.items()):
        own = subpackage(importer, package)
        if own is None:  # the package's front (keras_cnn/__init__.py) may import any but the CLI
            bad += [f"{importer} -> {t}: the package's front does not import the CLI"
                    for t in sorted(targets) if subpackage(t, package) == "cli"]
            continue
        for target in sorted(targets):
            if target == "keras_cnn_cli":
                bad.append(f"{importer} -> {target}: the front door imports the package, not "
                           "the other way round")
            elif target == package:
                bad.append(f"{importer} -> {target}: a sub-package imports the modules it "
                           "needs, never the package's front (keras_cnn/__init__.py)")
            elif target.startswith(package + "."):
                other = subpackage(target, package)
                if other not in RANKS:
                    bad.append(f"{importer} -> {target}: {other!r} has no rank in RANKS")
                elif other != own and RANKS[other] >= RANKS[own]:
                    bad.append(f"{importer} -> {target}: {own} (rank {RANKS[own]}) may not "
                               f"import {other} (rank {RANKS[other]})")
    return bad


def cycles(edges):
    """Import cycles among the modules of `edges`: the sorted modules of each set that import
    one another in a circle (Tarjan's strongly connected components; a module importing itself
    counts)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_in_a_ranked_subpackage():
    names = modules()
    assert {subpackage(m) for m in names} - {None} == set(RANKS)
    for name, path in names.items():
        if subpackage(name) is not None and path.parent != PACKAGE:
            assert (path.parent / "__init__.py").exists(), path  # packaging finds it


def test_imports_run_one_way_between_subpackages():
    assert direction_violations(graph()) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_every_command_has_its_run_function():
    """The front door's COMMAND_MODULES names, for every command of its parser, the CLI module
    with its run_<command> (read from the source, so nothing is imported)."""
    parser = keras_cnn_cli.build_parser()
    commands = next(a.choices for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction))
    assert set(commands) == set(keras_cnn_cli.COMMAND_MODULES)
    for command, module in keras_cnn_cli.COMMAND_MODULES.items():
        tree = ast.parse((PACKAGE / "cli" / f"{module}.py").read_text(encoding="utf-8"))
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert f"run_{command}" in functions, (command, module)


# --- the checks themselves fail on a violation --------------------------------------------------

def _write(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in root.rglob("*.py")} - {root}:
        (folder / "__init__.py").touch()
    (root / "__init__.py").touch()


@pytest.mark.parametrize("files, expected", [
    ({"core/a.py": "def f():\n    from keras_cnn.train import b\n", "train/b.py": ""},
     "keras_cnn.core.a -> keras_cnn.train.b: core (rank 0) may not import train (rank 5)"),
    ({"train/a.py": "from keras_cnn.analysis import b\n", "analysis/b.py": ""},
     "keras_cnn.train.a -> keras_cnn.analysis.b: train (rank 5) may not import analysis (rank 5)"),
    ({"mobile/a.py": "import keras_cnn\n"}, "keras_cnn.mobile.a -> keras_cnn: a sub-package"),
    ({"cli/a.py": "import keras_cnn_cli\n"}, "keras_cnn.cli.a -> keras_cnn_cli: the front door"),
    ({"__init__.py": "from keras_cnn.cli import a\n", "cli/a.py": ""},
     "keras_cnn -> keras_cnn.cli.a: the package's front"),
])
def test_a_wrong_direction_is_found(tmp_path, files, expected):
    root = tmp_path / "keras_cnn"
    _write(root, files)
    found = direction_violations(graph(root))
    assert any(line.startswith(expected) for line in found), found


def test_a_cycle_is_found(tmp_path):
    root = tmp_path / "keras_cnn"
    _write(root, {"train/a.py": "from keras_cnn.train import b\n",
                  "train/b.py": "def f():\n    from keras_cnn.train.c import x\n",
                  "train/c.py": "from keras_cnn.train.a import y\n",
                  "train/d.py": "from keras_cnn.train import a\n"})
    assert cycles(graph(root)) == [["keras_cnn.train.a", "keras_cnn.train.b", "keras_cnn.train.c"]]
    assert direction_violations(graph(root)) == []


def test_the_public_names_and_documented_paths_import():
    """What README.md and docs/ tell users to import (the paths that moved: docs/architecture.md,
    "Moved modules")."""
    import keras_cnn
    for name in ("ResNet50", "create_model", "list_models", "model_info", "profile", "to_keras",
                 "to_tf_keras", "load_weights", "decode_predictions", "backend", "imagenet",
                 "layers"):
        assert hasattr(keras_cnn, name), name
    for path in ("keras_cnn.mobile.export.to_tflite", "keras_cnn.mobile.export.benchmark_file",
                 "keras_cnn.mobile.pipeline.run", "keras_cnn.mobile.pruning.prune_model",
                 "keras_cnn.mobile.quantization.quantize_model",
                 "keras_cnn.mobile.deploy.tensor_arena_estimate",
                 "keras_cnn.mobile.channel_pruning.prune_channels",
                 "keras_cnn.mobile.channel_pruning.channel_report",
                 "keras_cnn.mobile.export.xnnpack_partitions",
                 "keras_cnn.io.runtimes.run_tflite", "keras_cnn.io.saving.load_model",
                 "keras_cnn.io.files.publish_table", "keras_cnn.train.recipes.run",
                 "keras_cnn.train.data.load_digits", "keras_cnn.train.evaluation.open_model",
                 "keras_cnn.train.transfer.run", "keras_cnn.train.schedules.make_optimizer",
                 "keras_cnn.analysis.zoo.zoo_table"):
        module, _, attribute = path.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), path
