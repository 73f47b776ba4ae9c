"""One worker of a two-worker training run on localhost (tests/test_training.py starts two).

    python multi_worker.py INDEX PORT0 PORT1 OUTPUT_DIR

Trains LeNet-5 on the digits for 2 epochs under MultiWorkerMirroredStrategy through
keras_cnn.train.training.train (its distributed loop), then prints one JSON line: the losses per
epoch and a digest of the final weights (equal on both workers if they stayed in sync)."""

import hashlib
import json
import os
import sys

index, ports, output = int(sys.argv[1]), sys.argv[2:4], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
    "task": {"type": "worker", "index": index}})

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_cnn  # noqa: E402
from keras_cnn.train import data, training  # noqa: E402

keras.utils.set_random_seed(0)
strategy = training.select_strategy()
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
splits = data.load_digits(image_size=32, channels=1, seed=0)
train = data.array_dataset(*splits.train, batch_size=64, training=True, seed=0)
val = data.array_dataset(*splits.val, batch_size=64, training=False)
with strategy.scope():
    model = keras_cnn.create_model("lenet5")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = training.train(model, train, val, epochs=2, output_dir=output, strategy=strategy,
                         verbose=0)
weights = np.concatenate([np.asarray(w).ravel() for w in model.weights])
print(json.dumps({"index": index, "loss": history["loss"],
                  "val_accuracy": history["val_accuracy"],
                  "digest": hashlib.sha256(weights.tobytes()).hexdigest(),
                  "files": sorted(os.listdir(output)) if os.path.isdir(output) else [],
                  "events": sorted(os.listdir(os.path.join(output, "tensorboard", "train")))
                  if index == 0 else []}),
      flush=True)
