"""The commands of `keras-cnn`, one module per group: `information` (list, info, zoo, recipes),
`training` (train, finetune, digits), `evaluation` (evaluate, predict), `mobile` (export,
prune, qat) and `demo`; `common` holds what they share.

Each command is `run_<command>(args)`. Its options are parsed by the front door,
`keras_cnn_cli.py` (outside the package, so that parsing does not load TensorFlow), which then
imports the command's module. Nothing else in the package imports this sub-package.

Every command that reads a model file reads it through `keras_cnn.io.artifacts`: a .keras,
.tflite or .onnx file with its sidecar JSON (class names, input scaling, evaluation protocol, how
it was built), so that each file one command writes is what the next command takes.
"""
