"""Run folders: what a training run writes, how a killed run resumes, and what a rerun may do.

    state = prepare(output_dir, manifest, overwrite=False)   # "new", "resume" or "finished"
    callbacks = [Recorder(output_dir), ...]                  # every epoch: the files below
    finish(output_dir)

A run folder holds `run.json` (the manifest: recipe, model, data, classes, image size, batch,
epochs, seed; and whether the run finished), `backup/` (the state to resume from), `last.keras`,
`best.keras`, `log.csv` and `history.json`. Every file is written atomically, and the backup in
an order that survives a kill at any instant: the weights go into a new file
`backup/epoch-N.weights.h5`, then `backup/state.json` (epoch, history, best value) names that
file, then older weights files are removed. `state.json` only ever names a complete file, so a
resumed run loads the last completed epoch, never a torn file.

A rerun into a folder resumes only the same run (the same manifest). A finished run is left as
it is; another run (other data, classes or settings) is refused with what differs, unless
`overwrite=True`, which removes the old run's files first, and the files exported or pruned
from its model under their default names (nothing else).
"""

import csv
import glob
import io
import json
import math
import os
import shutil

import keras

from keras_cnn.io.files import TEMPORARY_PREFIX, atomic_path, write_atomically

MANIFEST = "run.json"
BACKUP = "backup"
STATE = "state.json"
#: the files and folders of a run (what `overwrite` removes; nothing else in the folder)
RUN_FILES = (MANIFEST, BACKUP, "best.keras", "best.keras.json", "last.keras", "final.keras",
             "final.keras.json", "log.csv", "history.json", "tensorboard", "classes.json",
             "metrics.json", "curves.png", "workers",
             "head", "fine_tune")  # (keras-cnn finetune's phases: a run folder each)
#: what prune, qat and export make from final.keras by default: stale once the run is replaced
DERIVED_FILES = ("final_*.keras", "final_*.keras.json", "final*.tflite", "final*.tflite.json",
                 "final*.onnx", "final*.onnx.json")
NEW, RESUME, FINISHED = "new", "resume", "finished"


class RunConflict(ValueError):
    """The output folder holds another run, or a run that cannot be resumed."""


def prepare(output_dir, manifest, overwrite=False):
    """Get `output_dir` ready for the run described by `manifest` (a JSON dict); return NEW
    (nothing there, or overwritten), RESUME (the same run, unfinished) or FINISHED (the same run,
    done: nothing to train). Raises RunConflict for another run's folder."""
    output_dir = os.fspath(output_dir)
    manifest = json.loads(json.dumps(manifest))  # as it will read back (tuples as lists)
    present = [name for name in RUN_FILES if os.path.exists(os.path.join(output_dir, name))]
    if overwrite:
        remove_run(output_dir)
        present = []
    if not present:
        os.makedirs(output_dir, exist_ok=True)
        write_atomically(os.path.join(output_dir, MANIFEST),
                         json.dumps({**manifest, "finished": False}, indent=1))
        return NEW
    old = _read_manifest(output_dir)
    if old is None:
        raise RunConflict(f"{output_dir!r} holds the files of an earlier run "
                          f"({', '.join(present)}) but no {MANIFEST} saying which run it was, "
                          "so it cannot be resumed safely. Pass --overwrite (overwrite=True) to "
                          "remove that run's files and start afresh, or choose another output "
                          "folder.")
    differences = [f"{key}: {old.get(key)!r} there, {value!r} now"
                   for key, value in manifest.items() if old.get(key) != value]
    if differences:
        raise RunConflict(f"{output_dir!r} holds another run ({'; '.join(differences)}). A run "
                          "folder resumes only the same run. Pass --overwrite (overwrite=True) "
                          "to replace it, or choose another output folder.")
    return FINISHED if old.get("finished") else RESUME


def finish(output_dir):
    """Mark the run in `output_dir` finished (a rerun then trains nothing)."""
    manifest = _read_manifest(output_dir) or {}
    write_atomically(os.path.join(output_dir, MANIFEST),
                     json.dumps({**manifest, "finished": True}, indent=1))


def remove_run(output_dir):
    """Remove the run files of `output_dir` (`RUN_FILES`) and the files made from its model by
    prune, qat and export under their default names (final_*.keras, final*.tflite,
    final*.onnx, with their sidecars), leaving anything else in it."""
    remove_temporaries(output_dir)
    made = [path for pattern in DERIVED_FILES
            for path in glob.glob(os.path.join(output_dir, pattern))]
    for path in [os.path.join(output_dir, name) for name in RUN_FILES] + made:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def remove_temporaries(output_dir):
    """Remove the temporary files that a killed write left in `output_dir` and its backup
    (`keras_cnn.io.files.atomic_path` names them .keras-cnn-*)."""
    for folder in (output_dir, os.path.join(output_dir, BACKUP)):
        for path in glob.glob(os.path.join(folder, f"{TEMPORARY_PREFIX}*")):
            os.remove(path)


def _read_manifest(output_dir):
    path = os.path.join(output_dir, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as err:
        raise RunConflict(f"{path!r} is damaged ({err}). Pass --overwrite (overwrite=True) to "
                          "start the run afresh.") from None


def history(output_dir):
    """The run's history so far: {metric: [one value per completed epoch]} ({} for none)."""
    path = os.path.join(output_dir, "history.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Recorder(keras.callbacks.Callback):
    """At the end of every epoch: `last.keras`, `best.keras` (when `monitor` improved), the
    backup to resume from, `history.json` and `log.csv`, in `output_dir`, each atomically. At
    the start of training, a backup there is restored (weights, optimizer state, epoch, history,
    best value); a backup that cannot be read stops the run with a message naming the file and
    the remedy. `mode`: "max" (best is highest, as for an accuracy) or "min" (a loss)."""

    def __init__(self, output_dir, monitor="val_accuracy", mode="max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'. Received: mode={mode!r}")
        self.output_dir = os.fspath(output_dir)
        self.backup_dir = os.path.join(self.output_dir, BACKUP)
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.history = {}
        self.best = None

    # restoring

    def on_train_begin(self, logs=None):
        state = self._read_state()
        self._remove_stale_weights(keep=state and state["weights"])
        remove_temporaries(self.output_dir)
        self.model._initial_epoch = 0  # not what an earlier phase on this model left
        if state is None:
            return
        path = os.path.join(self.backup_dir, state["weights"])
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(path)
        except Exception as err:  # h5py and Keras raise several types for a damaged file
            raise RunConflict(f"The backup {path!r} cannot be loaded ({err}). Pass "
                              "--overwrite (overwrite=True) to start the run afresh, or remove "
                              f"{self.backup_dir!r} to restart it from epoch 1.") from None
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.best = state["best"]
        self.model._initial_epoch = state["epoch"]

    def _read_state(self):
        path = os.path.join(self.backup_dir, STATE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            state["epoch"], state["weights"], state["history"], state["best"]
        except (ValueError, KeyError, TypeError) as err:
            raise RunConflict(f"The backup state {path!r} is damaged ({err}). Pass --overwrite "
                              "(overwrite=True) to start the run afresh.") from None
        return state

    def _remove_stale_weights(self, keep):
        """Weights files no state names: a save cut short by a kill, or one superseded."""
        for path in glob.glob(os.path.join(self.backup_dir, "epoch-*.weights.h5")):
            if os.path.basename(path) != keep:
                os.remove(path)

    # saving

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(logs.get("loss", 0.0)):
            return  # a diverged epoch is not recorded: a rerun resumes from the one before
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        os.makedirs(self.backup_dir, exist_ok=True)
        with atomic_path(os.path.join(self.output_dir, "last.keras")) as tmp:
            self.model.save(tmp)
        value = logs.get(self.monitor)
        if value is not None and math.isfinite(value) and (self.best is None or self.sign * (value - self.best) > 0):
            self.best = value
            with atomic_path(os.path.join(self.output_dir, "best.keras")) as tmp:
                shutil.copyfile(os.path.join(self.output_dir, "last.keras"), tmp)
        weights = f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, weights))
        state = {"epoch": epoch + 1, "weights": weights, "history": self.history,
                 "best": self.best, "monitor": self.monitor}
        write_atomically(os.path.join(self.backup_dir, STATE), json.dumps(state))
        self._remove_stale_weights(keep=weights)
        write_atomically(os.path.join(self.output_dir, "history.json"),
                         json.dumps(self.history, indent=1))
        write_atomically(os.path.join(self.output_dir, "log.csv"), _csv(self.history))


def _csv(history):
    """The history as CSVLogger writes it: epoch, then the metrics in sorted order."""
    keys = sorted(history)
    rows = max((len(v) for v in history.values()), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(rows):
        writer.writerow([i, *(history[k][i] if i < len(history[k]) else "" for k in keys)])
    return out.getvalue()
