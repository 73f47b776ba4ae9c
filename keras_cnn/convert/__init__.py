"""Converters of other frameworks' checkpoints into keras_cnn's models: `torchvision` (PyTorch
state dicts of torchvision's models, `keras_cnn.from_torchvision`), `timm` (timm's checkpoints of
the models torchvision does not publish, `keras_cnn.from_timm`) and `pretrainedmodels` (Cadene's
checkpoint of PolyNet, `keras_cnn.from_pretrainedmodels`), each a table of its models on
`library.Library` (the conversion, `from_<library>`, the named sets: the same for every library),
on `state_dict` (reading state dicts, filling a model all or nothing). docs/weights.md."""
