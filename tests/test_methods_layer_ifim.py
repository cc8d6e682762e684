"""The layer iFIM in the registry (issue 25, item 6): ``build_method("layer-ifim", model)``
is :class:`~captum_ifim.LayerIFIMDecomposition` at the CAMs' layer, its location scores
upsampled to the images as the CAMs' maps are, and the harness runs it like any method."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_ifim import LayerIFIMDecomposition, build_method, default_target_layer
from comparisons.config import parse_config
from comparisons.run import run
from tests._zoo_models import ZOO
from tests.test_comparisons_harness import TINY


@functools.cache
def _cnn(dims: int = 2) -> nn.Module:
    torch.manual_seed(0)
    conv, pool = (
        (nn.Conv2d, nn.AdaptiveAvgPool2d) if dims == 2 else (nn.Conv3d, nn.AdaptiveAvgPool3d)
    )
    return nn.Sequential(
        conv(1, 4, 3, padding=1),
        nn.ReLU(),
        conv(4, 6, 3, padding=1, stride=2),
        nn.ReLU(),
        pool(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    ).eval()


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("summary", ["signed_norm", "projection"])
def test_the_map_is_the_layer_decompositions_upsampled_location_scores(dims, summary):
    model = _cnn(dims)
    x = torch.randn(2, 1, *([8] * dims), generator=torch.Generator().manual_seed(1))
    method = build_method("layer-ifim", model, location_summary=summary, energy=0.8)
    maps = method.attribute(x)
    layer = default_target_layer(model)
    result = LayerIFIMDecomposition(model, layer, location_summary=summary).decompose(x, None, 0.8)
    assert maps.shape == x.shape and maps.dtype == x.dtype
    torch.testing.assert_close(maps, result.spatial_map.to(x.dtype).expand_as(x))
    assert maps.abs().sum() > 0


def test_a_token_layer_is_laid_on_its_grid_without_the_class_token():
    zoo = next(z for z in ZOO if z.name == "tv-vit")
    model = zoo.build().eval()
    x = torch.randn(2, *zoo.input_shape, generator=torch.Generator().manual_seed(2))
    maps = build_method("layer-ifim", model).attribute(x)
    method = build_method("layer-ifim", model).method
    target = method.target
    result = LayerIFIMDecomposition(model, target.layer, feature_dim=-1).decompose(x)
    tokens = result.location_scores  # (N, 1 + h * w): the class token first
    side = int((tokens.shape[1] - 1) ** 0.5)
    grid = tokens[:, 1:].reshape(2, 1, side, side)
    expected = F.interpolate(grid, size=x.shape[2:], mode="bilinear", align_corners=False)
    assert maps.shape == x.shape
    torch.testing.assert_close(maps, expected.expand_as(x))


def test_bad_options_are_refused_before_a_model_runs():
    with pytest.raises(ValueError, match="location_summary"):
        build_method("layer-ifim", _cnn(), location_summary="norm")
    with pytest.raises(ValueError, match="energy"):
        build_method("layer-ifim", _cnn(), energy=1.5)
    with pytest.raises(ValueError, match="name a submodule"):
        build_method("layer-ifim", _cnn(), target_layer="no.such.layer")


def test_the_harness_runs_it_beside_the_input_space_ifim(tmp_path):
    data = copy.deepcopy(TINY)
    data["run"]["seeds"] = [0]
    data["methods"] = {"names": ["ifim-sensitive", "layer-ifim"]}
    data["metrics"] = {"names": ["deletion-auc", "pointing-game"]}
    folder = run(parse_config(data), tmp_path / "run", cache_dir=tmp_path / "cache")
    assert folder.failed == []
    methods = {row.method for row in folder.rows() if row.metric == "deletion-auc"}
    assert methods == {"ifim-sensitive", "layer-ifim"}
