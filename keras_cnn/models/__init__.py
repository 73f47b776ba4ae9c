"""One module per architecture family; importing this registers every builder.

Each family module lists its public builders in `__all__`; they are collected here (and exported
as `keras_cnn.<Name>`), so adding a family is adding a module.
"""

import importlib
import pkgutil

__all__ = []
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    _family = importlib.import_module(f"{__name__}.{_module}")
    for _builder in _family.__all__:
        globals()[_builder] = getattr(_family, _builder)
    __all__ += _family.__all__
__all__.sort()
del _module, _family, _builder
