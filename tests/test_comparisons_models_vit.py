"""The registry's vision transformers (``vit``, ``hybrid-vit``): shapes, seeding, the CAMs'
token-grid target layer, every paper method, and the iFIM identities on them."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_ifim import (
    IFIMDecomposition,
    UnsupportedModelError,
    build_method,
    default_target_layer,
    method_set,
)
from captum_ifim._baselines._target_layers import default_cam_target
from comparisons.models import SmallViT, Standardize, build_model, get_model_spec

from ._ifim_reference import brute_force_fisher, softmax_log_likelihoods, top_eigenspace

NAMES = ("vit", "hybrid-vit")
#: Tiny options at 32 x 32: one or two blocks of width 32, 4 x 4 tokens (vit) or 8 x 8.
TINY = {
    "vit": {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2},
    "hybrid-vit": {"stem_channels": (8, 16), "embed_dim": 32, "depth": 1, "num_heads": 2},
}
GRID = {"vit": (4, 4), "hybrid-vit": (8, 8)}


@functools.cache
def _tiny(name: str, num_classes: int = 2, pool: str = "max") -> nn.Module:
    """A tiny model in eval mode with a Standardize layer (shared: never modify it)."""
    options = {**TINY[name], "pool": pool, "input_mean": 0.2, "input_std": 0.5}
    return build_model(name, 1, num_classes, (32, 32), seed=0, **options).eval()


@functools.cache
def _inputs(count: int = 3) -> torch.Tensor:
    return torch.randn(count, 1, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", NAMES)
def test_default_size_gives_an_eight_by_eight_token_grid(name: str) -> None:
    model = build_model(name, 1, 3, (64, 64), seed=0, depth=1)
    assert isinstance(model, SmallViT)
    assert model.patch_embed.grid_size == (8, 8) and model.standardize is None
    assert model.num_prefix_tokens == 0 and model.global_pool == "max"  # the default pool
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 1, 64, 64)).shape == (2, 3)
    spec = get_model_spec(name)
    assert {"embed_dim", "depth", "num_heads", "mlp_ratio", "dropout", "pool"} <= set(spec.options)
    assert {"input_mean", "input_std"} <= set(spec.options)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_build_is_deterministic_and_leaves_the_global_rng(name: str) -> None:
    state = torch.random.get_rng_state()
    first, again, other = (
        build_model(name, 1, 2, (32, 32), seed=s, **TINY[name]) for s in (0, 0, 1)
    )
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b, _ in zip(
        first.state_dict().values(),
        again.state_dict().values(),
        other.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert not torch.equal(first.pos_embed, other.pos_embed)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pool", ["token", "avg", "max"])
def test_standardize_layer_is_the_same_network_on_standardized_inputs(name: str, pool: str) -> None:
    options = {**TINY[name], "pool": pool}
    plain = build_model(name, 1, 2, (32, 32), seed=3, **options).eval()
    wrapped = build_model(name, 1, 2, (32, 32), seed=3, input_mean=0.2, input_std=0.5, **options)
    assert isinstance(wrapped.standardize, Standardize)
    x = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(wrapped.eval()(x), plain((x - 0.2) / 0.5))
    assert plain.num_prefix_tokens == (1 if pool == "token" else 0)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("vit", {"patch_size": 5}, "multiples of patch_size = 5"),
        ("vit", {"embed_dim": 30, "num_heads": 4}, "multiple of num_heads"),
        ("vit", {"pool": "mean"}, "expected pool"),
        ("vit", {"dropout": 1.0}, "expected dropout"),
        ("vit", {"depth": 0}, "expected depth"),
        ("hybrid-vit", {"stem_channels": (8, 16, 32, 64, 64)}, "expected stem_channels"),
        ("hybrid-vit", {"stem_channels": (8, 16, 32, 64)}, "2 \\*\\* len\\(stem_channels\\)"),
    ],
)
def test_bad_options_are_refused(name: str, options: dict, message: str) -> None:
    size = (32, 32) if "stem_channels" not in options else (24, 24)
    with pytest.raises(ValueError, match=message):
        build_model(name, 1, 2, size, seed=0, **options)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pool", ["token", "max"])
def test_cams_read_the_last_blocks_tokens_on_the_patch_grid(name: str, pool: str) -> None:
    """The default CAM layer is ``blocks[-1].norm1``; its reshape drops exactly the prefix
    tokens and lays the patch tokens row by row on the patch grid."""
    model = _tiny(name, pool=pool)
    target = default_cam_target(model)
    assert target.layer is model.blocks[-1].norm1 is default_target_layer(model)
    assert target.name == f"blocks.{len(model.blocks) - 1}.norm1"
    prefix = model.num_prefix_tokens
    height, width = GRID[name]
    tokens = torch.randn(2, prefix + height * width, 32)
    grid = target.reshape_transform(tokens)
    assert grid.shape == (2, 32, height, width)
    row, column = 1, 2
    torch.testing.assert_close(grid[:, :, row, column], tokens[:, prefix + row * width + column])


@pytest.mark.parametrize("name", NAMES)
def test_gradcam_is_the_gradient_weighted_token_grid(name: str) -> None:
    """Grad-CAM (no normalization) = sum_k mean_grid(d y_c / d A_k) A_k on the token grid,
    upsampled bilinearly: checked against hooks on ``blocks[-1].norm1``."""
    model = _tiny(name)
    x, target = _inputs(), torch.tensor([0, 1, 1])
    captured: list[torch.Tensor] = []
    handle = model.blocks[-1].norm1.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        logits = model(x)
    finally:
        handle.remove()
    (activation,) = captured
    (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), activation)
    height, width = GRID[name]

    def to_grid(tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, model.num_prefix_tokens :]
        return patches.transpose(1, 2).reshape(len(tokens), -1, height, width)

    weights = to_grid(gradient).mean(dim=(2, 3), keepdim=True)
    cam = (weights * to_grid(activation)).sum(1, keepdim=True).detach()
    expected = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)
    maps = build_method("gradcam", model, normalization="none").attribute(x, target=target)
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", method_set("paper"))
def test_every_paper_method_gives_finite_maps_or_deepshap_refuses(name: str, method: str) -> None:
    model, x = _tiny(name), _inputs()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    background = torch.zeros(4, 1, 32, 32) if method == "deepshap" else None
    explainer = build_method(method, model, background=background)
    target = torch.tensor([0, 1, 0])
    if method == "deepshap":  # LayerNorm and attention have no exact DeepLIFT rule
        with pytest.raises(UnsupportedModelError, match="layer_norm") as refusal:
            explainer.attribute(x, target=target)
        assert "ifim-sensitive" in str(refusal.value)  # it names the methods that work
    else:
        maps = explainer.attribute(x, target=target)
        assert maps.shape == x.shape and torch.isfinite(maps).all()
        assert maps.flatten(1).abs().sum(1).min() > 0  # not the zero map
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", NAMES)
def test_ifim_identities_hold_on_the_transformers(name: str) -> None:
    """Against the brute-force Fisher matrix (eq. 2) in float64, 3 classes, 16 x 16 inputs:
    rank C - 1, the top eigenvalues, S = P x on their span, S + I = x with S orthogonal to I."""
    model = build_model(name, 1, 3, (16, 16), seed=0, **TINY[name]).eval().double()
    x = _inputs(2)[:, :, :16, :16].double()
    result = IFIMDecomposition(model).decompose(x, energy=1.0)
    torch.testing.assert_close(result.sensitive + result.insensitive, x, rtol=1e-9, atol=1e-11)
    inner = (result.sensitive * result.insensitive).flatten(1).sum(1)
    assert inner.abs().max() < 1e-9 * x.flatten(1).norm(dim=1).pow(2).max()
    for n in range(len(x)):
        fisher, _ = brute_force_fisher(softmax_log_likelihoods(model, (1, 16, 16)), x[n].flatten())
        assert int(result.rank[n]) == 2
        values, projector = top_eigenspace(fisher, int(result.num_components[n]))
        torch.testing.assert_close(result.eigenvalues[n, :2], values[:2], rtol=1e-7, atol=1e-12)
        torch.testing.assert_close(
            result.sensitive[n].flatten(), projector @ x[n].flatten(), rtol=1e-7, atol=1e-10
        )
