"""Models as they come (issue 22, item 4): outputs reduced to the logits by one rule, forward
functions where Captum takes them, Hugging Face classifiers' default CAM layers, and a model's
own target layer, reshape and output key in a config and in ``compare()``.

The Hugging Face models are built from tiny configs (random weights, nothing downloaded):
a ViT on 16 px single-channel images with one block of width 8, so that every registered
method runs on it twice in a few seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import warnings
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from captum_ifim import (
    LogitsModel,
    as_logits_model,
    available_methods,
    build_method,
    get_method_spec,
    logits_of,
)
from captum_ifim._baselines._reshape_transforms import (
    ChannelsLastToFirst,
    TokensToGrid,
    Unchanged,
    named_reshape_transform,
)
from captum_ifim._baselines._target_layers import (
    cam_target,
    default_cam_target,
    target_layer_rules,
)
from captum_ifim._model_outputs import OutputNotLogitsError
from captum_ifim.metrics._forward import model_outputs

transformers = pytest.importorskip("transformers")

SIDE = 16


@functools.cache
def hf_vit() -> nn.Module:
    """A tiny ``ViTForImageClassification`` (its forward returns an ImageClassifierOutput)."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=SIDE, patch_size=4, num_channels=1, hidden_size=8, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=16, num_labels=3,
    )  # fmt: skip
    return transformers.ViTForImageClassification(config).eval()


class HandWrapper(nn.Module):
    """What a user wrote before: a module returning the HF model's logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x).logits


class DictCNN(nn.Module):
    """A CNN of one's own returning a dict: the logits under ``"scores"``, and features."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features = self.features(x)
        return {"scores": self.head(features), "features": features}


class TensorCNN(nn.Module):
    """The same network returning its logits."""

    def __init__(self, source: DictCNN) -> None:
        super().__init__()
        self.features, self.head = source.features, source.head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _images(n: int, channels: int = 1, side: int = SIDE, seed: int = 0) -> Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


# 1. The rule ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Output:
    logits: Tensor
    hidden: Tensor


def test_the_rule_finds_the_logits_in_every_documented_layout() -> None:
    logits, other = torch.randn(2, 3), torch.randn(2, 5)
    model_output = transformers.modeling_outputs.ImageClassifierOutput(logits=logits)
    pair = namedtuple("Pair", ["hidden", "logits"])(other, logits)
    assert logits_of(logits) is logits
    assert logits_of(model_output) is logits
    assert logits_of(_Output(logits, other)) is logits
    assert logits_of(pair) is logits  # .logits before the tuple's first element
    assert logits_of({"hidden": other, "logits": logits}) is logits
    assert logits_of({"scores": logits, "names": ["a", "b"]}) is logits  # the single tensor
    assert logits_of((logits, other)) is logits and logits_of([logits, other]) is logits


def test_output_key_overrides_the_rule() -> None:
    logits, other = torch.randn(2, 3), torch.randn(2, 5)
    model_output = transformers.modeling_outputs.ImageClassifierOutput(logits=other)
    assert logits_of({"scores": logits, "aux": other}, "scores") is logits
    assert logits_of(_Output(other, logits), "hidden") is logits  # an attribute
    assert logits_of((other, logits), 1) is logits and logits_of((other, logits), -1) is logits
    assert logits_of(model_output, 0) is other  # a ModelOutput indexes its set fields
    assert logits_of({"a": other, "b": logits}, lambda out: out["b"] * 2).equal(2 * logits)
    assert logits_of(logits, lambda out: out[:, :2]).shape == (2, 2)


def test_outputs_without_logits_name_their_type_and_the_fix() -> None:
    two = {"a": torch.zeros(2, 3), "b": torch.zeros(2, 3)}
    with pytest.raises(OutputNotLogitsError, match=r"dict with keys \['a', 'b'\].*output_key="):
        logits_of(two)
    with pytest.raises(TypeError, match=r"a str.*output_key="):
        logits_of("logits")
    with pytest.raises(TypeError, match=r"tuple of \['list'\]"):
        logits_of(([1, 2],))
    with pytest.raises(ValueError, match=r"to hold 'scores'.*keys \['a', 'b'\]"):
        logits_of(two, "scores")
    with pytest.raises(ValueError, match="output_key=2 to index"):
        logits_of((torch.zeros(2, 3),), 2)
    with pytest.raises(TypeError, match=r"value output_key returned.*got a float"):
        logits_of(two, lambda out: 1.0)
    for bad in (True, 1.5, ["logits"]):
        with pytest.raises(TypeError, match="expected output_key"):
            LogitsModel(nn.Linear(2, 2), bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        as_logits_model(nn.Linear(2, 2), "")


def test_the_adapter_is_transparent_to_names_state_and_flags() -> None:
    model = DictCNN()
    adapter = LogitsModel(model, "scores")
    assert [n for n, _ in adapter.named_modules()][1:] == [n for n, _ in model.named_modules()][1:]
    assert adapter.get_submodule("features.0") is model.features[0]
    assert list(adapter.state_dict()) == list(model.state_dict())
    assert all(a is b for a, b in zip(adapter.parameters(), model.parameters(), strict=True))
    adapter.train()
    assert model.training and model.features[0].training
    adapter.eval()
    assert not model.training and not model.features[1].training
    x = _images(2).requires_grad_()
    adapter(x).sum().backward()
    assert x.grad is not None and model.features[0].weight.grad is not None
    assert as_logits_model(adapter) is adapter and as_logits_model(adapter, "scores") is adapter
    assert as_logits_model(adapter, "features").output_key == "features"


def test_torch_fx_traces_through_the_adapter() -> None:
    """DeepSHAP's preparation traces models with torch.fx: inside a traced network the
    adapter runs the model's own forward, so the graph calls the model's layers by name."""
    network = TensorCNN(DictCNN()).eval()
    traced = torch.fx.symbolic_trace(nn.Sequential(LogitsModel(network)))
    called = [node.target for node in traced.graph.nodes if node.op == "call_module"]
    assert called[0] == "0.features.0" and called[-1] == "0.head.2"
    x = _images(2)
    assert torch.equal(traced(x), network(x))


# 2. Every method and the metrics' forward ----------------------------------------------------


def _seeded_call(build: Any) -> Any:
    """``build()`` after seeding every generator a method may draw from; the error's type
    when it raises."""
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002 (RandomCAM draws from NumPy's global generator)
    random.seed(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build()
    except Exception as error:  # a method that cannot attribute the model, on both
        return type(error)


#: Fewer samples, steps and model calls where a method takes them (the maps are compared,
#: not judged).
CHEAP = {"n_samples": 4, "n_steps": 4, "perturbations_per_eval": 64, "grid_cells": 2}


@pytest.mark.parametrize("name", available_methods())
def test_every_method_on_a_hugging_face_vit_equals_the_hand_written_wrapper(name: str) -> None:
    """The ModelOutput is reduced by the rule: the map of every registry method on the HF
    model itself is the map on the wrapper users had to write (or both refuse the model with
    the same error type); the default CAM layer is the same module on both."""
    model, wrapper = hf_vit(), HandWrapper(hf_vit())
    x = _images(1, seed=3)
    background = _images(2, seed=4)
    spec = get_method_spec(name)
    options: dict[str, Any] = {"background": background} if spec.needs_background else {}
    options.update({k: v for k, v in CHEAP.items() if k in spec.options})
    if spec.needs_target_layer:
        assert cam_target(model).layer is cam_target(wrapper).layer
    ours = _seeded_call(lambda: build_method(name, model, **options).attribute(x, target=2))
    theirs = _seeded_call(lambda: build_method(name, wrapper, **options).attribute(x, target=2))
    if isinstance(ours, type):
        assert ours is theirs, (ours, theirs)
        return
    assert isinstance(theirs, Tensor), theirs
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert ours.shape == x.shape


def test_the_metrics_forward_and_the_ifim_read_the_logits() -> None:
    model, wrapper = hf_vit(), HandWrapper(hf_vit())
    x = _images(3, seed=5)
    ours = model_outputs(model, x, max_examples_per_batch=2)
    assert torch.equal(ours, model_outputs(wrapper, x, max_examples_per_batch=2))
    from captum_ifim import IFIMDecomposition

    ours = IFIMDecomposition(model).decompose(x)
    theirs = IFIMDecomposition(wrapper).decompose(x)
    assert torch.equal(ours.eigenvalues, theirs.eigenvalues)
    assert torch.equal(ours.sensitive, theirs.sensitive)


def test_output_key_reaches_every_method_and_a_bad_output_is_named() -> None:
    source = DictCNN().eval()
    plain = TensorCNN(source).eval()
    x = _images(2, seed=6)
    for name in ("gradcam", "saliency", "ifim-sensitive", "deepshap"):
        options = {"background": _images(1, seed=7)} if name == "deepshap" else {}
        ours = build_method(name, source, output_key="scores", **options).attribute(x, target=1)
        theirs = build_method(name, plain, **options).attribute(x, target=1)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    with pytest.raises(OutputNotLogitsError, match=r"dict with keys.*output_key="):
        build_method("saliency", source).attribute(x, target=1)  # two tensors: which?
    with pytest.raises(TypeError, match="expected output_key"):
        build_method("saliency", source, output_key=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["saliency", "integrated-gradients", "ifim-sensitive"])
def test_a_forward_function_is_taken_where_the_method_needs_no_module(name: str) -> None:
    """Captum takes ``forward_func``; so does build_method for the methods whose spec says
    ``needs_module=False``: the HF model's ``lambda x: model(x)`` (a ModelOutput) gives the
    module's map."""
    model = hf_vit()
    x = _images(2, seed=8)
    options = {"n_steps": 4} if name == "integrated-gradients" else {}
    by_function = build_method(name, lambda inputs: model(inputs), **options)
    by_module = build_method(name, model, **options)
    torch.testing.assert_close(
        by_function.attribute(x, target=[1, 2]), by_module.attribute(x, target=[1, 2])
    )
    assert not get_method_spec(name).needs_module


def test_a_method_that_needs_the_module_refuses_a_function_naming_those_that_do_not() -> None:
    model = hf_vit()
    for name in ("gradcam", "deepshap"):
        assert get_method_spec(name).needs_module
        with pytest.raises(TypeError, match=rf"nn.Module for '{name}'.*function.*'saliency'"):
            build_method(name, lambda inputs: model(inputs), background=_images(1))
    with pytest.raises(TypeError, match=r"nn.Module or a forward function"):
        build_method("saliency", "model")  # type: ignore[arg-type]


# 3. Hugging Face families' layers and reshapes -----------------------------------------------


def test_the_docs_table_names_the_hugging_face_families() -> None:
    families = [row[0] for row in target_layer_rules()]
    for name in ("ViT", "DeiT", "DeiT with teacher", "Swin", "ConvNeXt", "ResNet"):
        assert any(family.startswith(f"Hugging Face {name} (") for family in families), name
    assert families.index("Hugging Face ViT (ViTForImageClassification)") < len(families) - 1


def test_the_family_layer_is_found_through_adapters_and_preprocessing() -> None:
    """The rule matches the HF class inside a LogitsModel, inside the harness's
    preprocessing, inside a wrapper: the same layer and reshape; a block named by the user
    gets the family's token reshape; names are the user's model's."""
    from comparisons.models import InputPreprocessing, PreprocessedModel

    model = hf_vit()
    direct = default_cam_target(model)
    assert direct.name == "vit.layers.0.layernorm_before"
    assert direct.reshape_transform == TokensToGrid(1, (4, 4))
    preprocessed = PreprocessedModel(
        as_logits_model(model), InputPreprocessing(size=(SIDE, SIDE)), 1, 2
    )
    for outer in (as_logits_model(model), HandWrapper(model), preprocessed):
        target = default_cam_target(outer)
        assert target.layer is direct.layer and target.reshape_transform == direct.reshape_transform
    named = cam_target(model, "vit.layers.0.layernorm_after")
    assert named.reshape_transform == TokensToGrid(1, (4, 4))
    x = _images(2, seed=9)
    maps = build_method("gradcam", model, target_layer="vit.layers.0.layernorm_after")
    assert maps.attribute(x, target=0).shape == x.shape


def test_named_reshapes() -> None:
    assert named_reshape_transform("token-grid") == TokensToGrid(1)
    assert named_reshape_transform("token-grid:2") == TokensToGrid(2)
    assert named_reshape_transform("channels-last") == ChannelsLastToFirst()
    maps = torch.randn(2, 4, 3, 3)
    assert named_reshape_transform("none")(maps) is maps and Unchanged()(maps) is maps
    for bad in ("grid", "token-grid:x", "token-grid:"):
        with pytest.raises(ValueError, match="expected a reshape among"):
            named_reshape_transform(bad)


# 4. The harness: config entries and compare() ------------------------------------------------


def _config(**model: Any) -> dict[str, Any]:
    return {
        "datasets": [{"name": "python", "options": {"label": "data", "fingerprint": "0"}}],
        "models": [{"name": "net", "python_object": "0", **model}],
        "methods": {"names": ["gradcam", "saliency"]},
        "metrics": {"names": ["deletion-auc"]},
    }


def test_a_config_takes_output_key_target_layer_and_reshape_per_model() -> None:
    from comparisons.config import parse_config

    plain = parse_config(_config())
    config = parse_config(
        _config(output_key="scores", target_layer="features.1", reshape="token-grid:2")
    )
    entry = config.models[0]
    assert (entry.output_key, entry.target_layer, entry.reshape) == (
        "scores",
        "features.1",
        "token-grid:2",
    )
    assert parse_config(json.loads(json.dumps(config.to_dict()))) == config
    assert "output_key" not in plain.to_dict()["models"][0]  # old fingerprints unchanged
    assert parse_config(_config(output_key=0)).models[0].output_key == 0
    path = parse_config(_config(reshape="captum_ifim._baselines._reshape_transforms:Unchanged"))
    assert path.models[0].reshape.endswith(":Unchanged")
    bad = [
        ({"reshape": "grid"}, ValueError, r"\[\[models\]\] 'net'.*reshape among"),
        ({"reshape": "no_such_package.x:build"}, ImportError, "cannot import module"),
        ({"reshape": "captum_ifim:no_such"}, ValueError, "has no attribute"),
        ({"target_layer": 3}, TypeError, "target_layer in .* module name"),
        ({"output_key": True}, TypeError, "output_key in .*index"),
        ({"output_key": 1.5}, TypeError, "output_key in"),
    ]
    for model, error, pattern in bad:
        with pytest.raises(error, match=pattern):
            parse_config(_config(**model))


def test_the_cells_build_cams_on_the_models_layer_and_reshape() -> None:
    """The cell's method factory gives build_method the entry's layer (named on the model
    as built, found behind the preprocessing) and reshape; other methods get neither."""
    from comparisons.config import parse_config
    from comparisons.models import InputPreprocessing, PreprocessedModel
    from comparisons.run._cell import _method_factory

    config = parse_config(_config(target_layer="features.0", reshape="none"))
    network = TensorCNN(DictCNN()).eval()
    model = PreprocessedModel(network, InputPreprocessing(mean=(0.5,), std=(2.0,)), 1, 2)
    background = _images(1)
    cam = _method_factory(config, "gradcam", background, "net")(model)
    assert cam.method.target_layer is network.features[0]
    assert isinstance(cam.method.reshape_transform, Unchanged)
    default = _method_factory(config, "gradcam", background, None)(model)
    assert default.method.target_layer is network.features[1]
    saliency = _method_factory(config, "saliency", background, "net")(model)
    assert saliency.attribute(_images(2), target=0).shape == (2, 1, SIDE, SIDE)


def test_a_target_layer_not_in_the_model_is_refused_when_it_is_built() -> None:
    from comparisons._api import tensor_dataset
    from comparisons.config import parse_config
    from comparisons.run._entry_models import given_model

    dataset = tensor_dataset(_images(4), torch.tensor([0, 1, 0, 1]), class_names=["a", "b"])
    entry = parse_config(_config(target_layer="feature.0")).models[0]
    with pytest.raises(ValueError, match=r"'net'.*target_layer.*'feature.0' \(close: \['features"):
        given_model(entry, dataset, "data", torch.device("cpu"), python_object=DictCNN())
    entry = parse_config(_config(output_key="features")).models[0]
    with pytest.raises(ValueError, match=r"outputs of shape \(N, C\).*\(2, 4, 16, 16\)"):
        given_model(entry, dataset, "data", torch.device("cpu"), python_object=DictCNN())
    entry = parse_config(_config()).models[0]
    with pytest.raises(ValueError, match=r"dict with keys.*output_key = "):
        given_model(entry, dataset, "data", torch.device("cpu"), python_object=DictCNN())


def _compare(model: nn.Module, **options: Any) -> Any:
    from comparisons import compare

    generator = torch.Generator().manual_seed(2)
    images = torch.rand(8, 1, SIDE, SIDE, generator=generator)
    labels = torch.arange(8) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = compare(
            model, (images, labels), methods=["gradcam", "saliency"], metrics=["deletion-auc"],
            eval_examples=3, value_range=(0.0, 1.0), class_names=["a", "b", "c"], **options,
        )  # fmt: skip
    return rows[~rows.metric.str.contains("seconds")].reset_index(drop=True)


def test_compare_takes_a_hugging_face_model_with_its_layer_and_output_key() -> None:
    """compare() on the HF ViT as it comes, with a block of the user's choice, gives the
    rows of the hand-written wrapper told the same block by its own name."""
    model = hf_vit()
    layer = "vit.layers.0.layernorm_after"
    ours = _compare(model, target_layer=layer, output_key="logits")
    theirs = _compare(HandWrapper(model), target_layer=f"model.{layer}")
    keep = ["method", "metric", "setting", "value", "n"]
    assert len(ours) and ours[keep].equals(theirs[keep])
    with pytest.raises(ValueError, match=r"target_layer.*'vit.layer.0'"):
        _compare(model, target_layer="vit.layer.0")
    with pytest.raises(ValueError, match="reshape among"):
        _compare(model, reshape="grid")
