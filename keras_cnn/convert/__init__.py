"""Converters of other frameworks' checkpoints into keras_cnn's models: `torchvision` (PyTorch
state dicts of torchvision's models, `keras_cnn.from_torchvision`) on `state_dict` (reading state
dicts, filling a model all or nothing). docs/weights.md."""
