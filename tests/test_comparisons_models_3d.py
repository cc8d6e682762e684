"""The 3-D models: registry entries, shapes, eval-mode determinism, seeded initialisation,
parameter counts, standardization, training on volumes, and the iFIM on their outputs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from captum_ifim import IFIMDecomposition
from captum_ifim.metrics import ifim_subspace_overlap
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.models import (
    MODELS,
    ResNet3d18,
    ShallowCNN,
    ShallowCNN3d,
    build_model,
    get_model_spec,
)
from comparisons.training import TrainingConfig, train_model

MODELS_3D = ("shallow-cnn-3d", "resnet3d-18")
SIDE = 16


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


def volumes(n: int, side: int = SIDE, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, side, side, side, generator=torch.Generator().manual_seed(seed))


def test_registry_marks_the_spatial_dimensions() -> None:
    for name in MODELS_3D:
        spec = get_model_spec(name)
        assert spec.spatial_dims == 3 and spec.description
        assert {"input_mean", "input_std"} <= set(spec.options)
    assert {n for n, s in MODELS.items() if s.spatial_dims == 2} >= {"shallow-cnn", "resnet18"}
    assert get_model_spec("shallow-cnn-3d").options == (
        "channels",
        "head",
        "input_mean",
        "input_std",
    )
    assert get_model_spec("resnet3d-18").options == ("widths", "input_mean", "input_std")
    with pytest.raises(ValueError, match=r"expected image_size as \(D, H, W\)"):
        build_model("shallow-cnn-3d", 1, 2, (32, 32))
    with pytest.raises(ValueError, match=r"expected image_size as \(H, W\)"):
        build_model("shallow-cnn", 1, 2, (32, 32, 32))
    with pytest.raises(ValueError, match="at least 16 x 16 x 16"):
        build_model("resnet3d-18", 1, 2, (8, 8, 8))
    with pytest.raises(ValueError, match="at least 8 x 8 x 8"):
        build_model("shallow-cnn-3d", 1, 2, (4, 8, 8))


@pytest.mark.parametrize("name", MODELS_3D)
@pytest.mark.parametrize("num_classes", [2, 3])
def test_outputs_eval_determinism_and_batch_independence(name: str, num_classes: int) -> None:
    model = build_model(name, 1, num_classes, (SIDE, SIDE, SIDE), seed=0).eval()
    x = volumes(3)
    with torch.no_grad():
        out = model(x)
        again = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
    assert out.shape == (3, num_classes) and torch.isfinite(out).all()
    assert torch.equal(out, again)
    torch.testing.assert_close(alone, out, rtol=1e-5, atol=1e-6)
    assert all(not m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    assert not any(isinstance(m, nn.Conv2d | nn.BatchNorm2d) for m in model.modules())
    # a non-cubic volume works too
    with torch.no_grad():
        assert build_model(name, 2, num_classes, (16, 24, 32), seed=0).eval()(
            torch.randn(2, 2, 16, 24, 32)
        ).shape == (2, num_classes)


@pytest.mark.parametrize("name", MODELS_3D)
def test_seeded_initialisation_leaves_the_global_rng(name: str) -> None:
    state = torch.get_rng_state()
    first = build_model(name, 1, 2, (SIDE, SIDE, SIDE), seed=3).state_dict()
    again = build_model(name, 1, 2, (SIDE, SIDE, SIDE), seed=3).state_dict()
    other = build_model(name, 1, 2, (SIDE, SIDE, SIDE), seed=4).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_shallow_cnn_3d_structure_parameters_and_cam_maps() -> None:
    model = build_model("shallow-cnn-3d", 1, 2, (32, 32, 32), seed=0)
    assert isinstance(model, ShallowCNN3d) and isinstance(model, ShallowCNN)
    names = [name for name, _ in model.features.named_children()]
    assert names == [f"{kind}{i}" for i in (1, 2, 3) for kind in ("conv", "relu", "pool")]
    # conv 1->8, 8->16, 16->32 (3 x 3 x 3 + bias), then 32 -> 2
    expected = (27 * 8 + 8) + (27 * 8 * 16 + 16) + (27 * 16 * 32 + 32) + (32 * 2 + 2)
    assert sum(p.numel() for p in model.parameters()) == expected == 17618
    # the head: a fixed MaxPool3d over the (D/8, H/8, W/8) maps, one module per ReLU use
    assert type(model.pool) is nn.MaxPool3d and model.pool.kernel_size == (4, 4, 4)
    maps: list[torch.Tensor] = []
    handle = model.features.relu3.register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        model(torch.randn(1, 1, 32, 32, 32))
    finally:
        handle.remove()
    assert maps[0].shape == (1, 32, 8, 8, 8)
    gap = build_model("shallow-cnn-3d", 1, 2, (16, 16, 16), seed=0, head="gap")
    assert isinstance(gap.pool, nn.AdaptiveAvgPool3d)
    flat = build_model("shallow-cnn-3d", 1, 2, (16, 24, 32), seed=0, head="flatten")
    assert flat.classifier.in_features == 32 * 2 * 3 * 4


def resnet_parameters(widths: tuple[int, ...], classes: int, channels: int = 1) -> int:
    """ResNet-18 parameter count from its layout: a 7^3 stem, [2, 2, 2, 2] basic blocks
    (two 3^3 convs and batch norms each; a 1^3 projection with batch norm where the width
    or stride changes), a linear head."""

    def conv(c_in: int, c_out: int, k: int = 3) -> int:
        return k**3 * c_in * c_out

    total = conv(channels, widths[0], 7) + 2 * widths[0]
    previous = widths[0]
    for stage, width in enumerate(widths):
        for block in range(2):
            c_in = previous if block == 0 else width
            total += conv(c_in, width) + conv(width, width) + 4 * width
            if block == 0 and (stage > 0 or c_in != width):
                total += conv(c_in, width, 1) + 2 * width
        previous = width
    return total + widths[-1] * classes + classes


def test_resnet3d_structure_and_parameter_count() -> None:
    model = build_model("resnet3d-18", 1, 2, (32, 32, 32), seed=0)
    assert sum(p.numel() for p in model.parameters()) == resnet_parameters((16, 32, 64, 128), 2)
    assert resnet_parameters((16, 32, 64, 128), 2) == 2_078_674
    wide = build_model("resnet3d-18", 3, 4, (16, 16, 16), seed=0, widths=(8, 8, 16, 16))
    assert sum(p.numel() for p in wide.parameters()) == resnet_parameters((8, 8, 16, 16), 4, 3)
    assert isinstance(model, ResNet3d18) and model.conv1.stride == (2, 2, 2)
    assert not any(isinstance(m, nn.MaxPool3d) for m in model.modules())
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    calls: list[nn.Module] = []
    handles = [r.register_forward_hook(lambda m, i, o: calls.append(m)) for r in relus]
    try:
        model(torch.randn(2, 1, 16, 16, 16))
    finally:
        for handle in handles:
            handle.remove()
    assert len(calls) == len(relus) == 17 and len(set(map(id, calls))) == 17  # each used once
    maps: list[torch.Tensor] = []
    handle = model.layer4[-1].register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        model.eval()(torch.randn(1, 1, 32, 32, 32))
    finally:
        handle.remove()
    assert maps[0].shape == (1, 128, 2, 2, 2)


@pytest.mark.parametrize("name", MODELS_3D)
def test_standardize_equals_standardized_inputs(name: str) -> None:
    plain = build_model(name, 1, 3, (SIDE, SIDE, SIDE), seed=5).eval()
    inner = build_model(name, 1, 3, (SIDE, SIDE, SIDE), seed=5, input_mean=2.0, input_std=4.0)
    x = 2.0 + 4.0 * volumes(2)
    with torch.no_grad():
        torch.testing.assert_close(inner.eval()(x), plain((x - 2.0) / 4.0))


def tiny_volume_dataset(n: int = 12) -> ImageDataset:
    """Labels decided by the sign of the mean of the left half of the volume."""
    x = volumes(n, seed=7)
    labels = (x[..., : SIDE // 2].mean(dim=(1, 2, 3, 4)) > 0).long()
    labels[:2] = torch.tensor([0, 1])
    split = ImageSplit(x, labels, torch.zeros(n, SIDE, SIDE, SIDE, dtype=torch.bool))
    return ImageDataset("volumes", ("a", "b"), split, split, split, 0.0, 1.0)


@pytest.mark.parametrize("name", MODELS_3D)
def test_trains_on_volumes_with_flips_and_loads_from_the_cache(name: str, tmp_path) -> None:
    data = tiny_volume_dataset()
    config = TrainingConfig.fast(epochs=2, batch_size=4, horizontal_flip=True)
    seen: list[tuple[int, ...]] = []
    trained = train_model(name, data, config, seed=1, cache_dir=tmp_path, progress=False)
    model = trained.model
    assert not model.training and trained.history.epochs == 2
    assert trained.test_metrics.support == tuple(torch.bincount(data.test.labels).tolist())
    handle = model.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    try:
        with torch.no_grad():
            model(data.test.images[:3])
    finally:
        handle.remove()
    assert seen == [(3, 1, SIDE, SIDE, SIDE)]
    cached = train_model(name, data, config, seed=1, cache_dir=tmp_path, progress=False)
    assert cached.from_cache and cached.cache_key == trained.cache_key
    state, again = trained.model.state_dict(), cached.model.state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_training_flips_volumes_left_right_only() -> None:
    """The flip acts on the last axis of each 5-D batch, with the seeded generator."""
    from comparisons.training._fit import fit

    data = tiny_volume_dataset(8)
    batches: list[torch.Tensor] = []

    class Recorder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(SIDE**3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training:
                batches.append(x.detach().clone())
            return self.linear(x.flatten(1))

    config = TrainingConfig.fast(epochs=1, batch_size=8, horizontal_flip=True)
    generator = torch.Generator().manual_seed(0)
    fit(Recorder(), data.train, data.val, config, generator, device="cpu", progress=False)
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    batch, source = batches[0], data.train.images[order]
    flipped = [torch.equal(b, s.flip(-1)) for b, s in zip(batch, source, strict=True)]
    kept = [torch.equal(b, s) for b, s in zip(batch, source, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


@pytest.mark.parametrize("name", MODELS_3D)
def test_the_ifim_of_a_3d_model_and_its_subspace_across_seeds(name: str) -> None:
    seeds = [build_model(name, 1, 3, (SIDE, SIDE, SIDE), seed=s).eval() for s in (0, 1)]
    x = volumes(2, seed=8)
    result = IFIMDecomposition(seeds[0]).decompose(x)
    assert result.eigenvectors.shape == (2, 2, 1, SIDE, SIDE, SIDE)
    assert result.sensitive.shape == x.shape
    same = ifim_subspace_overlap(seeds[0], seeds[0], x)
    torch.testing.assert_close(same.overlap, torch.ones(2, dtype=torch.float64))
    across = ifim_subspace_overlap(seeds[0], seeds[1], x)
    assert ((across.overlap >= 0) & (across.overlap <= 1)).all()
    assert across.overlap.max() < 0.99  # two initialisations are not the same model


@pytest.mark.parametrize("name", MODELS_3D)
def test_shap_deep_explainer_is_exact_on_the_3d_models(name: str) -> None:
    """Every layer has an exact DeepLIFT rule in shap (Conv3d, BatchNorm3d, ReLU, the
    non-overlapping MaxPool3d head, AdaptiveAvgPool3d), so attributions sum to
    ``f(x) - E_b f(b)`` (additivity)."""
    import shap

    model = build_model(name, 1, 2, (SIDE, SIDE, SIDE), seed=0).eval()
    background, x = volumes(4, seed=9), volumes(2, seed=10)
    values = shap.DeepExplainer(model, background).shap_values(x, check_additivity=False)
    totals = torch.as_tensor(values).flatten(1, -2).sum(1)  # (N, C)
    with torch.no_grad():
        expected = model(x) - model(background).mean(0)
    torch.testing.assert_close(totals.to(expected.dtype), expected, rtol=1e-4, atol=1e-5)
