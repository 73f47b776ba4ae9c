"""The Python API is honest: every registered builder has a real signature (the keras.applications
arguments and its family's own), documents every argument, accepts every argument it lists and
refuses any other with a TypeError naming the public builder, before building anything."""

import inspect
import pydoc

import pytest
import tf_keras

import keras_cnn
from keras_cnn.core import applications
from keras_cnn.core.registry import _documented_arguments, register_model
from keras_cnn.models import efficientnet, efficientnet_v2
from helpers import grouped

ALL = keras_cnn.list_models()

#: The keras.applications arguments, in order, with their defaults (classes: the model's own).
COMMON = {"include_top": True, "weights": None, "input_tensor": None, "input_shape": None,
          "pooling": None, "classes": "the model's", "classifier_activation": "softmax",
          "name": None}

ACCEPTED_RESNET50 = ("Accepted: include_top, weights, input_tensor, input_shape, pooling, classes, "
                     "classifier_activation, name; family arguments: stride_in_1x1, use_bias, "
                     "drop_path_rate, small_input, stem_ceil_mode.")


def parameters(name):
    return inspect.signature(keras_cnn.model_info(name).builder).parameters


def family_arguments(name):
    return {n: p.default for n, p in parameters(name).items() if n not in COMMON}


class Reached(Exception):
    """Raised instead of building: the builder got as far as `build_application`."""


@pytest.fixture
def no_building(monkeypatch):
    """`build_application` (where every family builder ends) raises `Reached` with its keyword
    arguments instead of building a model."""
    def reached(info, features, head, **kwargs):
        raise Reached(kwargs)
    for module in (applications, efficientnet, efficientnet_v2):  # (these two import it)
        monkeypatch.setattr(module, "build_application", reached)


# --- signatures and docstrings ----------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_signature_has_the_common_arguments_then_the_familys(name):
    params = parameters(name)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    common = list(params)[:len(COMMON)]
    assert common == list(COMMON)
    for argument, default in COMMON.items():
        if argument == "classes":
            default = keras_cnn.model_info(name).num_classes
        assert params[argument].default == default, argument


def test_signature_examples():
    assert str(inspect.signature(keras_cnn.ResNet50)) == (
        "(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, "
        "classes=1000, classifier_activation='softmax', name=None, stride_in_1x1=None, "
        "use_bias=None, drop_path_rate=0.0, small_input=False, stem_ceil_mode=None)")
    assert inspect.signature(keras_cnn.LeNet5).parameters["classes"].default == 10
    assert family_arguments("mobilenet_v3_small") == dict(
        alpha=1.0, minimalistic=False, dropout_rate=0.2, include_preprocessing=None,
        small_input=False, torch_padding=None)
    assert family_arguments("xception") == {}


@pytest.mark.parametrize("name,fixed", [
    ("alexnet_two_tower", "towers"), ("zfnet", "towers"), ("lenet5_c3_table", "c3_table"),
    ("vgg16_bn", "batch_norm"), ("vgg11_lrn", "lrn"), ("squeezenet1_0_simple_bypass", "bypass"),
    ("mobilenet_v3_small_minimalistic", "minimalistic"), ("resnet18", "stride_in_1x1"),
    ("se_resnet34", "stride_in_1x1"),
])
def test_options_a_variant_fixes_are_not_offered(name, fixed, no_building):
    """Options the variant sets itself (or does not have) are neither in its signature nor
    accepted, while the family's other variants take them."""
    assert fixed not in parameters(name)
    others = [n for n in keras_cnn.list_models(family=keras_cnn.model_info(name).family)
              if fixed in parameters(n)]
    assert others
    builder = keras_cnn.model_info(name).builder
    with pytest.raises(TypeError, match=rf"^{builder.__name__}\(\) got an unexpected keyword "
                                        rf"argument '{fixed}'\. {builder.__name__} fixes {fixed} "
                                        r"\(other \w+ variants take it\)\. Accepted: "):
        builder(**{fixed: parameters(others[0])[fixed].default})


@pytest.mark.parametrize("name", ALL)
def test_docstring_documents_every_argument(name):
    builder = keras_cnn.model_info(name).builder
    doc = inspect.getdoc(builder)
    lines = [line.strip() for line in doc.splitlines()]
    for argument in parameters(name):
        assert any(line.startswith(f"{argument}: ") for line in lines), argument
    documented = _documented_arguments(builder)
    assert list(documented) == list(family_arguments(name))
    assert doc.splitlines()[0] == inspect.getdoc(inspect.unwrap(builder)).splitlines()[0]


def test_help_shows_the_signature_and_the_family_arguments():
    text = pydoc.render_doc(keras_cnn.ResNet50, renderer=pydoc.plaintext)
    assert "ResNet50(*, include_top=True," in text
    assert "drop_path_rate=0.0, small_input=False, stem_ceil_mode=None)" in text
    assert "Family arguments:\n        stride_in_1x1: where a bottleneck block strides" in text
    assert "Common arguments (the keras.applications contract):" in text
    assert "classes: number of classes, with include_top=True (default 10)." in (
        keras_cnn.LeNet5.__doc__)


# --- every listed argument is accepted --------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_every_listed_argument_is_accepted(name, no_building):
    """All of them at once, at their defaults, reach `build_application` (no model is built),
    which gets every common argument."""
    builder = keras_cnn.model_info(name).builder
    defaults = {argument: p.default for argument, p in parameters(name).items()}
    with pytest.raises(Reached) as reached:
        builder(**defaults)
    assert set(COMMON) <= set(reached.value.args[0])


#: Real builds, at small sizes, with every family argument away from its default: one case per
#: argument's documentation (test_builds_cover_every_family_argument checks it).
BUILDS = {
    "alexnet": dict(towers=2, dropout=0.3, input_shape=(67, 67, 3)),
    "bn_inception": dict(dropout=0.2, input_shape=(32, 32, 3)),
    "capsnet": dict(conv_filters=16, primary_capsules=4, routings=2),
    "cnn_f": dict(dropout=0.3, fc7_units=128, input_shape=(39, 39, 3)),
    "convnext_tiny": dict(include_preprocessing=False, drop_path_rate=0.1,
                          layer_scale_init_value=None, input_shape=(32, 32, 3)),
    "densenet_bc100_cifar": dict(growth_rate=4, compression=1.0, bottleneck=None,
                                 blocks=(2, 2, 2), stem_filters=8, dropout=0.2),
    "efficientnet_b0": dict(small_input=True, stddev_rescaling=True, dropout_rate=0.1,
                            drop_connect_rate=0.1, input_shape=(32, 32, 3)),
    "efficientnet_v2_b0": dict(include_preprocessing=False, small_input=True, dropout_rate=0.1,
                               drop_connect_rate=0.1, input_shape=(32, 32, 3)),
    "fractalnet20": dict(columns=2, dropout=(0.0, 0.1, 0.2, 0.3, 0.4), drop_path=0.1,
                         global_ratio=0.25),
    "googlenet": dict(aux_logits=True, lrn=False, dropout=0.2, aux_dropout=0.5,
                      input_shape=(65, 65, 3)),
    "googlenet_torchvision": dict(transform_input=False, dropout=0.5, input_shape=(32, 32, 3)),
    "highway_cifar": dict(stages=((8, 1), (16, 2)), gate_bias=-2.0, input_shape=(8, 8, 3)),
    "inception_resnet_v1": dict(dropout=0.1, input_shape=(75, 75, 3)),
    "irrcnn_cifar": dict(t=1, dropout=0.2, input_shape=(8, 8, 3)),
    "inception_v3": dict(aux_logits=True, dropout=0.1),  # the auxiliary classifier needs 299
    "inception_v4": dict(dropout=0.1, include_top=True, input_shape=(75, 75, 3)),
    "polynet": dict(stages=(("mpoly2",), ("poly2",), ("3way",)), dropout=0.1,
                    input_shape=(75, 75, 3)),
    "lenet5": dict(c3_table=True, activation="relu", subsampling="max"),
    "mobilenet": dict(alpha=0.25, depth_multiplier=2, dropout=0.1, small_input=True,
                      input_shape=(32, 32, 3)),
    "mobilenet_v2": dict(alpha=0.35, small_input=True, torch_padding=True,
                         input_shape=(32, 32, 3)),
    "mobilenet_v3_small": dict(alpha=0.75, minimalistic=True, dropout_rate=0.1,
                               include_preprocessing=False, small_input=True,
                               torch_padding=True, input_shape=(32, 32, 3)),
    "nasnet_mobile": dict(penultimate_filters=96, num_blocks=1, stem_block_filters=8,
                          filter_multiplier=2, skip_reduction=True, input_shape=(32, 32, 3)),
    "nin_cifar10": dict(dropout=0.1),
    "overfeat_fast": dict(dropout=0.2, fc_units=(64, 64), input_shape=(71, 71, 3)),
    "res2net50_26w_4s": dict(scale=2, base_width=8, input_shape=(32, 32, 3)),
    "resnet18": dict(use_bias=True, drop_path_rate=0.1, small_input=True,
                     input_shape=(32, 32, 3)),
    "resnet18_v2": dict(drop_path_rate=0.1, small_input=True, input_shape=(32, 32, 3)),
    "resnet20_cifar": dict(shortcut="B", drop_path_rate=0.1),
    "resnext50_32x4d": dict(stride_in_1x1=True, small_input=True, input_shape=(32, 32, 3)),
    "se_resnet18": dict(stem_ceil_mode=True, relu_before_se=True, input_shape=(33, 33, 3)),
    "shufflenet_g1": dict(scale=0.5, small_input=True, input_shape=(32, 32, 3)),
    "shufflenet_v2_x0_5": dict(small_input=True, input_shape=(32, 32, 3)),
    "squeezenet1_1": dict(bypass="simple", dropout=0.2, small_input=True,
                          input_shape=(32, 32, 3)),
    "vgg11": dict(batch_norm=True, lrn=True, dropout=0.5, input_shape=(32, 32, 3)),
    "vit_ti16": dict(dropout=0.1, attention_dropout=0.1, depth=2, input_shape=(32, 32, 3)),
    "wrn40_4": dict(dropout=0.3, drop_path_rate=0.1),
}


def test_builds_cover_every_family_argument():
    """Every family argument, as its documentation tells it apart (mobilenet's three `alpha`s,
    the families' many `dropout`s), is set by a case of BUILDS."""
    built = {(argument, tuple(lines)) for name, kwargs in BUILDS.items()
             for argument, lines in _documented_arguments(keras_cnn.model_info(name).builder).items()
             if argument in kwargs}
    everywhere = {(argument, tuple(lines)) for name in ALL
                  for argument, lines in _documented_arguments(
                      keras_cnn.model_info(name).builder).items()}
    assert sorted(everywhere - built) == []


@pytest.mark.parametrize("name", grouped(BUILDS))
def test_family_arguments_build(name):
    kwargs = dict(BUILDS[name], classes=7)
    model = keras_cnn.create_model(name, **kwargs)
    outputs = model.outputs
    assert outputs[0].shape[-1] == 7
    assert model._keras_cnn_build.kwargs == kwargs


# --- other arguments are refused, before building ---------------------------------------------

def test_pretrained_points_to_weights(no_building):
    with pytest.raises(TypeError) as error:
        keras_cnn.create_model("resnet50", pretrained=True)
    assert str(error.value) == (
        "ResNet50() has no argument 'pretrained'; use weights='imagenet' or "
        "weights='torchvision' (or the path to a weights file) to load pretrained weights, or weights=None (the default) for a random "
        "initialization.")


def test_pretrained_without_a_published_set(no_building):
    with pytest.raises(TypeError) as error:
        keras_cnn.ResNet200(pretrained=False)
    assert str(error.value) == (
        "ResNet200() has no argument 'pretrained'; use weights=<the path to a weights file> to "
        "load pretrained weights, or weights=None (the default) for a random initialization. No "
        "pretrained set is published for resnet200.")


def test_unknown_argument_names_the_builder_and_what_it_accepts(no_building):
    with pytest.raises(TypeError) as error:
        keras_cnn.create_model("resnet50", drop_path=0.1)
    assert str(error.value) == ("ResNet50() got an unexpected keyword argument 'drop_path'. Did "
                                "you mean 'drop_path_rate'? " + ACCEPTED_RESNET50)
    with pytest.raises(TypeError) as error:
        keras_cnn.ResNet50(foo=1, bar=2)
    assert str(error.value) == ("ResNet50() got unexpected keyword arguments 'foo', 'bar'. "
                                + ACCEPTED_RESNET50)
    with pytest.raises(TypeError) as error:
        keras_cnn.Xception(alpha=0.5)
    assert str(error.value) == (
        "Xception() got an unexpected keyword argument 'alpha'. Accepted: include_top, weights, "
        "input_tensor, input_shape, pooling, classes, classifier_activation, name; family "
        "arguments: none.")
    with pytest.raises(TypeError, match=r"^ResNet50\(\) takes keyword arguments only\. "
                                        r"Received 1 positional argument\(s\)\.$"):
        keras_cnn.ResNet50(False)


def test_internal_arguments_are_not_offered(no_building):
    """build_application's weights_options (a family's business) is no public argument."""
    with pytest.raises(TypeError, match=r"^MobileNet\(\) got an unexpected keyword argument "
                                        r"'weights_options'\."):
        keras_cnn.MobileNet(weights_options={"alpha": 0.5})


def test_registration_checks_the_family_arguments():
    def family(variant, *, documented=1, undocumented=2, **kwargs):
        """A family builder.

        Family arguments:
            documented: an argument.
        """
    metadata = dict(family="test", paper="test", default_size=32, min_size=1)
    with pytest.raises(ValueError, match=r"does not document \['undocumented'\] under "
                                         r"'Family arguments:'"):
        register_model("test_api_model", options=family, **metadata)(lambda **kwargs: None)
    family.__doc__ = family.__doc__.rstrip() + "\n            undocumented: another.\n"
    with pytest.raises(ValueError, match=r"has no keyword-only arguments \['missing'\] "
                                         r"\(documented, or excluded by 'test_api_model'\)"):
        register_model("test_api_model", options=family, exclude=("missing",), **metadata)(
            lambda **kwargs: None)
    assert "test_api_model" not in keras_cnn.list_models()


# --- bad family arguments: one check, one message, before building ------------------------------

#: Every family argument by kind (test_every_family_argument_has_a_kind keeps the lists complete,
#: so that a new argument joins the checks below).
BOOLEAN = {"aux_logits", "batch_norm", "c3_table", "include_preprocessing", "lrn", "minimalistic",
           "relu_before_se", "skip_reduction", "small_input", "stddev_rescaling", "stem_ceil_mode", "stride_in_1x1",
           "torch_padding",
           "transform_input", "use_bias"}
RATES = {"attention_dropout", "aux_dropout", "drop_connect_rate", "drop_path_rate", "dropout",
         "dropout_rate"}
OTHERS = {"activation", "alpha", "base_width", "blocks", "bottleneck", "bypass", "columns",
          "compression", "conv_filters", "depth", "depth_multiplier", "drop_path", "fc7_units",
          "fc_units", "filter_multiplier", "gate_bias", "global_ratio", "growth_rate",
          "layer_scale_init_value", "num_blocks", "penultimate_filters", "primary_capsules",
          "routings", "scale", "shortcut", "stages", "stem_block_filters", "stem_filters",
          "subsampling", "t", "towers"}
#: Arguments named as a kind but of another: FractalNet's dropout is one rate per block.
NOT_THEIR_KIND = {("fractalnet20", "dropout"), ("fractalnet40", "dropout")}

#: (argument kind, bad value, what the message says the argument must be)
BAD_VALUES = [(BOOLEAN, "yes", "True or False"), (BOOLEAN, 1, "True or False"),
              (RATES, 1.5, "a number in [0, 1)"), (RATES, True, "a number in [0, 1)")]
BAD_ARGUMENTS = [(name, argument, value, expected)
                 for name in ALL for argument in family_arguments(name)
                 for kind, value, expected in BAD_VALUES
                 if argument in kind and (name, argument) not in NOT_THEIR_KIND]


def test_every_family_argument_has_a_kind():
    arguments = {argument for name in ALL for argument in family_arguments(name)}
    assert not BOOLEAN & RATES and not (BOOLEAN | RATES) & OTHERS
    assert sorted(arguments ^ (BOOLEAN | RATES | OTHERS)) == []


@pytest.mark.parametrize("name,argument,value,expected", BAD_ARGUMENTS,
                         ids=[f"{n}-{a}-{v!r}" for n, a, v, _ in BAD_ARGUMENTS])
def test_bad_family_arguments_get_the_same_error(name, argument, value, expected, no_building):
    """The same bad value gets the same ValueError in every family, before anything is built."""
    with pytest.raises(ValueError) as error:
        keras_cnn.model_info(name).builder(**{argument: value})
    assert str(error.value) == f"{argument} must be {expected}. Received: {argument}={value!r}"


def test_check_functions():
    assert applications.check_choice("towers", 2, (1, 2)) == 2
    with pytest.raises(ValueError, match=r"^towers must be 1 or 2\. Received: towers=True$"):
        applications.check_choice("towers", True, (1, 2))
    with pytest.raises(ValueError, match=r"^bypass must be one of None, 'simple' or 'complex'\. "
                                         r"Received: bypass=False$"):
        applications.check_choice("bypass", False, (None, "simple", "complex"))
    assert applications.check_rate("dropout", 0) == 0
    with pytest.raises(ValueError, match=r"^dropout must be a number in \[0, 1\)\. "
                                         r"Received: dropout='0\.1'$"):
        applications.check_rate("dropout", "0.1")
    with pytest.raises(ValueError, match=r"^alpha must be a positive number\. Received: alpha=0$"):
        applications.check_positive_number("alpha", 0)
    with pytest.raises(ValueError, match=r"^growth_rate must be a positive integer\. "
                                         r"Received: growth_rate=2\.0$"):
        applications.check_positive_int("growth_rate", 2.0)


# --- the tf_keras bridge and the build record -------------------------------------------------

def test_family_arguments_go_through_the_bridge():
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), small_input=True, drop_path_rate=0.1)
    model = keras_cnn.ResNet18(**kwargs)
    assert model._keras_cnn_build.kwargs == kwargs
    twin = keras_cnn.to_tf_keras(model)
    assert isinstance(twin, tf_keras.Model)
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    with keras_cnn.backend.use("tf_keras"):
        assert isinstance(keras_cnn.ResNet18(**kwargs), tf_keras.Model)
        with pytest.raises(TypeError, match=r"^ResNet18\(\) has no argument 'pretrained'"):
            keras_cnn.ResNet18(pretrained=True)
