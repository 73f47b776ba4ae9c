"""Dense prediction on the zoo's backbones: segmentation and detection models, their losses,
metrics and box arithmetic. Built on `core`, `layers` and `models` (the backbones, through
`core.registry.backbone`); `train` and `mobile` use it, it uses neither."""
