"""The harness's models: shapes, layers the CAMs pick, seeded initialisation, no download."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from captum_ifim import default_target_layer
from comparisons.models import (
    MODELS,
    ShallowCNN,
    Standardize,
    available_models,
    build_model,
    get_model_spec,
)


@pytest.fixture(autouse=True)
def _one_thread_no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One torch thread, and any network connection fails (weights=None must hold)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _intended_layer(name: str, model: nn.Module) -> nn.Module:
    """The layer each model is meant to expose to CAMs, found independently."""
    if name == "shallow-cnn":
        return model.features.relu3
    if name == "resnet18":
        return model.layer4[-1]
    layers = list(model.features.children())
    last_conv = max(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
    following = layers[last_conv + 1 :]
    return next(m for m in following if isinstance(m, nn.ReLU))


def test_registry_lists_the_three_models() -> None:
    assert available_models() == (
        "shallow-cnn",
        "resnet18",
        "vgg16",
        "vit",
        "hybrid-vit",
        "shallow-cnn-3d",
        "resnet3d-18",
    )
    for name in available_models():
        spec = get_model_spec(name)
        assert spec is MODELS[name] and spec.name == name and spec.description
        assert {"input_mean", "input_std"} <= set(spec.options)
    assert get_model_spec("vgg16").options == ("head", "batch_norm", "input_mean", "input_std")
    with pytest.raises(ValueError, match="expected a model name among"):
        get_model_spec("alexnet")


@pytest.mark.parametrize("name", ["shallow-cnn", "resnet18", "vgg16"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_every_model_builds_for_channels_and_classes(name: str, in_channels: int) -> None:
    for num_classes in (2, 3, 10):
        model = build_model(name, in_channels, num_classes, (64, 64), seed=0).eval()
        with torch.no_grad():
            out = model(torch.randn(2, in_channels, 64, 64))
        assert out.shape == (2, num_classes) and torch.isfinite(out).all()
        layer = default_target_layer(model)
        assert layer is _intended_layer(name, model)
        assert all(not m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
        assert all(t.device.type == "cpu" for t in [*model.parameters(), *model.buffers()])


def test_default_target_layers_by_index() -> None:
    vgg = build_model("vgg16", 1, 2, seed=0)
    assert default_target_layer(vgg) is vgg.features[29]
    assert isinstance(vgg.features[28], nn.Conv2d) and isinstance(vgg.features[30], nn.MaxPool2d)
    standardized = build_model("vgg16", 1, 2, seed=0, input_mean=0.5, input_std=2.0)
    assert isinstance(standardized.features[0], Standardize)
    assert default_target_layer(standardized) is standardized.features[30]
    bn = build_model("vgg16", 3, 2, seed=0, batch_norm=True)
    assert default_target_layer(bn) is bn.features[42]
    assert isinstance(bn.features[41], nn.BatchNorm2d)
    resnet = build_model("resnet18", 1, 2, seed=0, input_mean=0.5, input_std=2.0)
    assert default_target_layer(resnet) is resnet.layer4[1]


def test_shallow_cnn_structure_and_parameter_count() -> None:
    model = build_model("shallow-cnn", 1, 3, (64, 64), seed=0)
    assert isinstance(model, ShallowCNN)
    names = [name for name, _ in model.features.named_children()]
    assert names == [f"{kind}{i}" for i in (1, 2, 3) for kind in ("conv", "relu", "pool")]
    # conv 1->16, 16->32, 32->64 (3 x 3 + bias), then 64 * 8 * 8 -> 3.
    expected = (9 * 1 * 16 + 16) + (9 * 16 * 32 + 32) + (9 * 32 * 64 + 64) + (64 * 64 * 3 + 3)
    assert sum(p.numel() for p in model.parameters()) == expected == 35587
    calls: list[nn.Module] = []
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [r.register_forward_hook(lambda m, i, o: calls.append(m)) for r in relus]
    try:
        model(torch.randn(1, 1, 64, 64))
    finally:
        for handle in handles:
            handle.remove()
    assert len(relus) == 3 and calls == relus  # one module per use, each used once
    layer = default_target_layer(model)
    maps: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        model(torch.randn(1, 1, 64, 64))
    finally:
        handle.remove()
    assert maps[0].shape == (1, 64, 16, 16)


@pytest.mark.parametrize(
    ("size", "head"),
    [((32, 32), "flatten"), ((32, 32), "gap"), ((32, 32), "max"), ((48, 40), "flatten")],
)
def test_shallow_cnn_at_other_sizes(size: tuple[int, int], head: str) -> None:
    model = build_model("shallow-cnn", 3, 2, size, seed=1, head=head, channels=(4, 6, 8))
    assert model(torch.randn(3, 3, *size)).shape == (3, 2)
    features = 8 if head in ("gap", "max") else 8 * (size[0] // 8) * (size[1] // 8)
    assert model.classifier.in_features == features


def test_resnet_small_stem_keeps_resolution() -> None:
    model = build_model("resnet18", 1, 2, (32, 32), seed=0, stem="small").eval()
    maps: list[torch.Tensor] = []
    handle = default_target_layer(model).register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 2)
    finally:
        handle.remove()
    assert maps[0].shape == (2, 512, 4, 4)
    assert isinstance(model.maxpool, nn.Identity) and model.conv1.kernel_size == (3, 3)


def test_vgg_heads() -> None:
    light = build_model("vgg16", 1, 3, (64, 64), seed=0)
    assert isinstance(light.avgpool, nn.AdaptiveAvgPool2d) and light.avgpool.output_size == 1
    assert [type(m) for m in light.classifier] == [nn.Linear]
    assert light.classifier[0].in_features == 512
    paper = build_model("vgg16", 1, 2, (224, 224), seed=0)  # "auto" picks torchvision's
    assert paper.avgpool.output_size == (7, 7)
    assert paper.classifier[0].in_features == 512 * 7 * 7
    assert paper.classifier[-1].out_features == 2
    with torch.no_grad():
        assert paper.eval()(torch.randn(1, 1, 224, 224)).shape == (1, 2)


def test_standardize_equals_standardized_inputs() -> None:
    # the 3-D models: tests/test_comparisons_models_3d.py
    for name in (n for n in available_models() if get_model_spec(n).spatial_dims == 2):
        plain = build_model(name, 1, 3, seed=5).eval()
        inner = build_model(name, 1, 3, seed=5, input_mean=20.0, input_std=4.0).eval()
        x = 20.0 + 4.0 * torch.randn(2, 1, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(inner(x), plain((x - 20.0) / 4.0))


def test_seeded_initialisation() -> None:
    state = torch.get_rng_state()
    first = build_model("resnet18", 1, 2, seed=3).state_dict()
    again = build_model("resnet18", 1, 2, seed=3).state_dict()
    other = build_model("resnet18", 1, 2, seed=4).state_dict()
    assert torch.equal(torch.get_rng_state(), state)  # global RNG left as found
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["conv1.weight"], other["conv1.weight"])
    assert not torch.equal(first["fc.weight"], other["fc.weight"])
    build_model("shallow-cnn", 1, 2)  # seed=None draws from the global RNG
    assert not torch.equal(torch.get_rng_state(), state)


def test_invalid_arguments() -> None:
    with pytest.raises(TypeError, match="expected options of 'resnet18' among"):
        build_model("resnet18", 1, 2, head="light")
    with pytest.raises(ValueError, match="expected num_classes >= 2"):
        build_model("shallow-cnn", 1, 1)
    with pytest.raises(TypeError, match="expected an int in_channels"):
        build_model("shallow-cnn", 1.0, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected image_size"):
        build_model("shallow-cnn", 1, 2, (64,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 32 x 32"):
        build_model("vgg16", 1, 2, (16, 16))
    with pytest.raises(ValueError, match="at least 8 x 8"):
        build_model("shallow-cnn", 1, 2, (4, 4))
    with pytest.raises(ValueError, match="expected input_mean and input_std together"):
        build_model("shallow-cnn", 1, 2, input_mean=0.0)
    with pytest.raises(ValueError, match="expected a finite std > 0"):
        build_model("shallow-cnn", 1, 2, input_mean=0.0, input_std=0.0)
    with pytest.raises(ValueError, match="expected head"):
        build_model("vgg16", 1, 2, head="tiny")
    with pytest.raises(TypeError, match="expected an int seed"):
        build_model("shallow-cnn", 1, 2, seed=1.5)  # type: ignore[arg-type]
