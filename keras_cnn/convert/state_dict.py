"""PyTorch state dicts into Keras models: reading them, and writing their tensors into a model's
layers, all or nothing.

A state dict is {name: tensor}, e.g. "features.3.squeeze.weight". `read_state_dict` reads one from
a `.pth`/`.pt` file (with torch, imported only then: `pip install torch`, the CPU wheel is enough),
a `.safetensors` file (with the `safetensors` package), or takes one already in memory (a dict of
NumPy arrays or torch tensors).

`Assignment` fills a Keras model from it: a converter names, for each Keras layer with weights,
the prefix of its PyTorch module ("conv1_conv" <- "conv1"), and the layer's type says how its
tensors are laid out:

- Conv2D (grouped too): weight (out, in / groups, kh, kw) -> kernel (kh, kw, in / groups, out);
  bias -> bias; a Linear's weight (out, in) into a 1x1 Conv2D (a classifier applied to pooled
  1x1 maps, as MobileNetV3's) -> (1, 1, in, out);
- DepthwiseConv2D: weight (channels * multiplier, 1, kh, kw) -> kernel (kh, kw, channels,
  multiplier);
- Dense: weight (out, in) -> kernel (in, out); a Dense fed by a Flatten of (H, W, C) feature maps
  also permutes its rows, since PyTorch flattens (C, H, W);
- BatchNormalization: weight, bias, running_mean, running_var -> gamma, beta, moving_mean,
  moving_variance. `num_batches_tracked` (a training counter) is ignored. Where the Keras layer's
  epsilon is not PyTorch's, the difference goes into the moving variance
  (var + eps_torch - eps_keras), so that sqrt(var + eps) is PyTorch's: the outputs are the same
  without changing the model;
- LayerNormalization: weight, bias -> gamma, beta;
- MultiHeadAttention (PyTorch's nn.MultiheadAttention, as torchvision's ViT has it): in_proj_weight
  (3 D, D) and in_proj_bias (3 D), the query, key and value projections stacked, -> the query,
  key and value kernels (D, heads, head size) and biases (heads, head size); out_proj.weight
  (D, D), out_proj.bias -> the output kernel (heads, head size, D) and bias;
- ClassToken, PositionEmbedding (keras_cnn.layers.tokens): the tensor named by the prefix itself
  (torchvision's `class_token`, `encoder.pos_embedding`). Position embeddings learned for
  another (square) grid of patches than the layer's are resized for it
  (`tokens.resize_position_embedding`: bicubic, aligned corners, as torchvision's
  `interpolate_embeddings`).

Every tensor of the state dict must be used exactly once (the classifier's are left out on
purpose for a model without its top) and every weight of the model filled. Anything missing, left
over or of the wrong shape is an error naming it, raised before any weight is assigned: the model
is never half-loaded.
"""

import os

import numpy as np

#: Tensors PyTorch saves that hold no weight (BatchNorm's count of training batches).
IGNORED_SUFFIXES = (".num_batches_tracked",)

_MAX_LISTED = 12


def read_state_dict(source):
    """{name: float32 NumPy array} from `source`: a path (.pth/.pt/.bin: a PyTorch state dict,
    possibly wrapped as {"state_dict": ...} or {"model": ...}; .safetensors) or a mapping of
    names to arrays or torch tensors."""
    if isinstance(source, dict):
        state = source
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No checkpoint file at {path}.")
        if path.endswith(".safetensors"):
            state = _read_safetensors(path)
        else:
            state = _read_torch(path)
    for wrapper in ("state_dict", "model"):
        if isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    arrays = {}
    for name, value in state.items():
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().float().numpy()
        arrays[str(name)] = np.asarray(value)
    return arrays


def _read_torch(path):
    try:
        import torch
    except ImportError:
        raise ImportError(f"Reading the PyTorch checkpoint {path} needs PyTorch: pip install torch "
                          "(the CPU-only wheel is enough). Or pass the state dict as a dict of "
                          "NumPy arrays, or a .safetensors file.") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"Cannot read {path} as a PyTorch state dict ({type(error).__name__}: "
                         f"{error}).") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict (a dict of "
                         "tensors): save model.state_dict(), not the model.")
    return state


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ImportError(f"Reading {path} needs the safetensors package: pip install "
                          "safetensors.") from None
    return load_file(path)


class Assignment:
    """The weights of `model`'s layers taken from `state` ({name: array}), checked whole before
    any is assigned. `torch_epsilon`: the epsilon of the checkpoint's BatchNorm layers (1e-5
    unless the model says otherwise). `skip`: prefixes of tensors deliberately left out (the
    classifier, for a model without its top). `source`: the checkpoint, for error messages."""

    def __init__(self, model, state, torch_epsilon=1e-5, skip=(), source="the state dict"):
        self.model = model
        self.state = state
        self.torch_epsilon = torch_epsilon
        self.source = source
        self.used = {}                 # tensor name -> the Keras layer that took it
        self.skipped = {n for n in state if any(n == p or n.startswith(p + ".") for p in skip)}
        self.values = {}               # Keras layer name -> [arrays in layer.weights order]
        self.problems = []

    # --- taking tensors -----------------------------------------------------------------------

    def _take(self, key, layer):
        if key in self.used:
            self.problems.append(f"tensor {key!r} is used twice (by layers "
                                 f"{self.used[key]!r} and {layer.name!r})")
            return None
        if key not in self.state or key in self.skipped:
            self.problems.append(f"{self.source} has no tensor {key!r} (for layer {layer.name!r})")
            return None
        self.used[key] = layer.name
        return self.state[key]

    def layer(self, layer_name, prefix, **options):
        """Fill Keras layer `layer_name` from the tensors `{prefix}.weight`, `{prefix}.bias`, ...,
        by the layer's type (`options`: `flatten_from`, the (H, W, C) shape a Dense's input was
        flattened from)."""
        try:
            layer = self.model.get_layer(layer_name)
        except ValueError:
            self.problems.append(f"{self.model.name} has no layer {layer_name!r} (for tensors "
                                 f"{prefix}.*)")
            return
        if layer.name in self.values:
            self.problems.append(f"layer {layer.name!r} is filled twice")
            return
        kind = type(layer).__name__
        convert = {"Conv2D": self._conv, "DepthwiseConv2D": self._depthwise, "Dense": self._dense,
                   "BatchNormalization": self._batch_norm, "LayerNormalization": self._layer_norm,
                   "MultiHeadAttention": self._attention, "ClassToken": self._class_token,
                   "PositionEmbedding": self._position_embedding}.get(kind)
        if convert is None:
            self.problems.append(f"no conversion for layer {layer.name!r} of type {kind}")
            return
        arrays = convert(layer, prefix, **options)
        if arrays is not None:
            self.values[layer.name] = arrays

    def _weight_and_bias(self, layer, prefix, kernel):
        weight = self._take(f"{prefix}.weight", layer)
        bias = self._take(f"{prefix}.bias", layer) if layer.use_bias else None
        if weight is None or (layer.use_bias and bias is None):
            return None
        expected = tuple(layer.kernel.shape)
        converted = kernel(weight, expected)
        if converted is None:
            return None
        return [converted] if bias is None else [converted, bias]

    def _conv(self, layer, prefix):
        def kernel(weight, expected):
            if weight.ndim == 2 and expected[:2] == (1, 1):  # a Linear as a 1x1 convolution
                return weight.T[None, None]
            if weight.ndim != 4:
                return self._shape_problem(layer, f"{prefix}.weight", weight.shape, expected)
            return weight.transpose(2, 3, 1, 0)           # OIHW -> HWIO
        return self._weight_and_bias(layer, prefix, kernel)

    def _depthwise(self, layer, prefix):
        def kernel(weight, expected):
            kh, kw, channels, multiplier = expected
            if weight.shape != (channels * multiplier, 1, kh, kw):
                return self._shape_problem(layer, f"{prefix}.weight", weight.shape,
                                           (channels * multiplier, 1, kh, kw), torch_shape=True)
            # output channel c * multiplier + m of PyTorch is (channel c, multiplier m) of Keras
            return weight.reshape(channels, multiplier, kh, kw).transpose(2, 3, 0, 1)
        return self._weight_and_bias(layer, prefix, kernel)

    def _dense(self, layer, prefix, flatten_from=None):
        def kernel(weight, expected):
            if weight.ndim != 2:
                return self._shape_problem(layer, f"{prefix}.weight", weight.shape, expected)
            if flatten_from is not None and weight.shape[1] == np.prod(flatten_from):
                height, width, channels = flatten_from
                weight = (weight.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
                          .reshape(weight.shape[0], -1))   # rows in Keras's (H, W, C) order
            return weight.T                                 # (out, in) -> (in, out)
        return self._weight_and_bias(layer, prefix, kernel)

    def _batch_norm(self, layer, prefix):
        names = []
        if layer.scale:
            names.append("weight")
        if layer.center:
            names.append("bias")
        names += ["running_mean", "running_var"]
        arrays = [self._take(f"{prefix}.{n}", layer) for n in names]
        if any(a is None for a in arrays):
            return None
        arrays[-1] = arrays[-1] + np.float32(self.torch_epsilon - layer.epsilon)
        return arrays

    def _layer_norm(self, layer, prefix):
        names = (["weight"] if layer.scale else []) + (["bias"] if layer.center else [])
        arrays = [self._take(f"{prefix}.{n}", layer) for n in names]
        return None if any(a is None for a in arrays) else arrays

    def _attention(self, layer, prefix):
        in_weight = self._take(f"{prefix}.in_proj_weight", layer)
        in_bias = self._take(f"{prefix}.in_proj_bias", layer)
        out_weight = self._take(f"{prefix}.out_proj.weight", layer)
        out_bias = self._take(f"{prefix}.out_proj.bias", layer)
        if any(a is None for a in (in_weight, in_bias, out_weight, out_bias)):
            return None
        heads, size = layer.num_heads, layer.key_dim
        width = heads * size
        if in_weight.shape[0] != 3 * width or in_weight.ndim != 2:
            return self._shape_problem(layer, f"{prefix}.in_proj_weight", in_weight.shape,
                                       (3 * width, in_weight.shape[-1]), torch_shape=True)
        arrays = []
        for part in range(3):  # query, key, value
            rows = slice(part * width, (part + 1) * width)
            arrays.append(in_weight[rows].T.reshape(-1, heads, size))
            arrays.append(in_bias[rows].reshape(heads, size))
        arrays.append(out_weight.T.reshape(heads, size, -1))
        arrays.append(out_bias)
        return arrays

    def _class_token(self, layer, prefix):
        token = self._take(prefix, layer)
        return None if token is None else [token]

    def _position_embedding(self, layer, prefix):
        embedding = self._take(prefix, layer)
        if embedding is None:
            return None
        expected = tuple(layer.embedding.shape)
        grid = getattr(layer, "grid", None)
        if embedding.shape != expected and grid is not None and embedding.ndim == 3:
            from keras_cnn.layers.tokens import resize_position_embedding
            side = int(round((embedding.shape[1] - layer.prefix_tokens) ** 0.5))
            if side * side + layer.prefix_tokens == embedding.shape[1]:
                embedding = resize_position_embedding(embedding, (side, side), grid,
                                                      layer.prefix_tokens)
        return [embedding]

    def _shape_problem(self, layer, key, received, expected, torch_shape=False):
        what = "needs" if torch_shape else "needs a tensor converting to"
        self.problems.append(f"tensor {key!r} has shape {tuple(received)}; layer {layer.name!r} "
                             f"{what} {tuple(expected)}")
        return None

    # --- checking and assigning ---------------------------------------------------------------

    def apply(self):
        """Check that every tensor was used and every weighted layer filled with the right
        shapes; then assign them all. Raises ValueError listing what is wrong, before assigning
        anything."""
        problems = list(self.problems)
        for layer in self.model.layers:
            if not layer.weights:
                continue
            if layer.name not in self.values:
                if not any(p.endswith(f"(for layer {layer.name!r})") or
                           f"layer {layer.name!r}" in p for p in problems):
                    problems.append(f"no tensor of {self.source} fills layer {layer.name!r} "
                                    f"({type(layer).__name__})")
                continue
            arrays = self.values[layer.name]
            expected = [tuple(w.shape) for w in layer.weights]
            received = [tuple(a.shape) for a in arrays]
            if expected != received:
                problems.append(f"layer {layer.name!r} needs weights of shapes {expected}; the "
                                f"converted tensors have {received}")
        leftover = sorted(n for n in self.state
                          if n not in self.used and n not in self.skipped
                          and not n.endswith(IGNORED_SUFFIXES))
        if leftover:
            listed = ", ".join(map(repr, leftover[:_MAX_LISTED]))
            more = f" and {len(leftover) - _MAX_LISTED} more" if len(leftover) > _MAX_LISTED else ""
            problems.append(f"{len(leftover)} tensor(s) of {self.source} are left over (no layer "
                            f"of {self.model.name} takes them): {listed}{more}")
        if problems:
            listed = "; ".join(problems[:_MAX_LISTED])
            more = (f"; and {len(problems) - _MAX_LISTED} more problems"
                    if len(problems) > _MAX_LISTED else "")
            raise ValueError(f"{self.source} does not fit {self.model.name} (nothing was "
                             f"loaded): {listed}{more}.")
        for layer in self.model.layers:
            if layer.name in self.values:
                dtypes = [w.dtype for w in layer.weights]
                layer.set_weights([np.asarray(a, dtype=d)
                                   for a, d in zip(self.values[layer.name], dtypes)])
        return self.model
