"""Target layers and reshapes chosen without user input, and the table of docs/baselines.md.

The zoo's default layers are checked in ``tests/test_method_zoo_contract.py``; here the
rules themselves: the page's table equals the code's rows, every rule's class exists, the
general rule on CNNs that no family rule knows (its probe leaves nothing behind), the
overrides, the token reshapes, DenseNet's rectified map, and the warning for 1 x 1 maps.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_ifim import GradCAM, XGradCAM, build_method, default_target_layer
from captum_ifim._baselines._reshape_transforms import ChannelsLastToFirst, TokensToGrid
from captum_ifim._baselines._target_layers import (
    FAMILY_RULES,
    cam_target,
    default_cam_target,
    target_layer_rules,
)
from tests._baseline_models import assert_same_state, model_state, small_cnn

ROOT = Path(__file__).resolve().parents[1]


def _page_table() -> list[tuple[str, str, str]]:
    lines = (ROOT / "docs" / "baselines.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| family | target layer | reshape transform |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        family, layer, reshape = (cell.strip() for cell in line.strip().strip("|").split(" | "))
        rows.append((family, layer, reshape))
    return rows


def test_the_docs_table_is_the_codes_rows() -> None:
    assert _page_table() == target_layer_rules()
    assert target_layer_rules()[-1][0] == "any other CNN (general rule)"


@pytest.mark.parametrize("rule", FAMILY_RULES, ids=lambda rule: rule.family)
def test_every_family_rule_names_a_class_of_its_package(rule) -> None:
    package = rule.module.split(".")[0]
    pytest.importorskip(package, reason=f"{package} is not installed (the dev extra has it)")
    importlib.import_module(rule.module)
    cls = rule.network_class()
    assert isinstance(cls, type) and issubclass(cls, nn.Module), rule


class _ResidualCNN(nn.Module):
    """No family: a stem, a residual block with functional ReLU and ``+``, a pooled head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block = _Block(4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(self.block(self.stem(x)), 1).flatten(1))


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width, 1)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn(self.conv2(F.relu(self.conv1(x)))))


def test_the_general_rule_takes_the_block_output_and_the_probe_leaves_nothing() -> None:
    torch.manual_seed(0)
    model = _ResidualCNN().train()
    before = model_state(model)
    rng = torch.get_rng_state()
    target = default_cam_target(model)
    assert (target.name, target.rule, target.reshape_transform) == ("block", "general rule", None)
    assert torch.equal(torch.get_rng_state(), rng)  # the probe draws nothing
    assert_same_state(before, model_state(model, copy_tensors=False))  # eval, hooks, BN stats
    assert model.training and model.block.bn.training


def test_the_general_rule_keeps_the_plain_cnn_layers_and_falls_back_without_a_probe() -> None:
    cnn = small_cnn(1)
    assert default_target_layer(cnn) is cnn[5]  # the ReLU after the last conv's BatchNorm
    # A flatten head of a fixed size: the 64 px probe fails, the static rule answers.
    fixed = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 10 * 10, 3)
    ).eval()
    assert default_cam_target(fixed).name == "1"
    volumes = nn.Sequential(
        nn.Conv3d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(2, 3)
    )
    assert default_cam_target(volumes).name == "1"
    with pytest.raises(ValueError, match=r"nn\.Conv2d or nn\.Conv3d"):
        default_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_a_family_inside_a_wrapper_is_found() -> None:
    torchvision = pytest.importorskip("torchvision")
    resnet = torchvision.models.resnet18(weights=None, num_classes=3)
    wrapped = nn.Sequential(nn.Identity(), resnet)
    target = default_cam_target(wrapped)
    assert target.layer is resnet.layer4[-1] and target.name == "1.layer4.1"
    assert target.rule.startswith("torchvision ResNet")


def test_token_reshapes() -> None:
    tokens = torch.arange(2 * 7 * 3.0).view(2, 7, 3)  # class + distillation, then 5 patches
    with pytest.raises(ValueError, match="form a grid"):
        TokensToGrid(2)(tokens)
    grid = TokensToGrid(2)(torch.cat([tokens, tokens[:, :4]], 1))  # 2 + 9 tokens: 3 x 3
    assert grid.shape == (2, 3, 3, 3)
    assert torch.equal(grid[:, :, 0, 1], tokens[:, 3])  # patch 1 is row 0, column 1
    wide = TokensToGrid(1, (2, 3))(tokens)  # 6 patches on the model's 2 x 3 grid
    assert wide.shape == (2, 3, 2, 3) and torch.equal(wide[:, :, 1, 0], tokens[:, 4])
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        TokensToGrid(1)(torch.zeros(2, 3, 4, 4))
    maps = torch.randn(2, 4, 5, 6)
    assert torch.equal(ChannelsLastToFirst()(maps), maps.permute(0, 3, 1, 2))


def test_overrides_and_the_family_reshape_of_a_named_layer() -> None:
    torchvision = pytest.importorskip("torchvision")
    vit = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )
    named = cam_target(vit, "encoder.layers.encoder_layer_0")
    assert named.reshape_transform == TokensToGrid(1, (4, 4)) and named.rule == "given"
    mine = ChannelsLastToFirst()
    assert cam_target(vit, None, mine).reshape_transform is mine
    cnn = small_cnn(1)
    assert cam_target(cnn, "3").reshape_transform is None


def test_densenet121_gets_its_1024_channel_map_not_a_dense_layer_convolution() -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.densenet121(weights=None, num_classes=3).eval()
    target = default_cam_target(model)
    assert target.layer is model.features.norm5 and target.then_relu
    assert target.layer.num_features == model.classifier.in_features == 1024


def test_densenet_map_is_the_rectified_norm5_map_the_classifier_pools() -> None:
    """Hand-derived: y_t = W_t . mean_ij relu(z)_ij + b_t with z = features.norm5(...), so
    the gradient at z is W_tk / (h w) where z > 0 and 0 elsewhere; Grad-CAM's weights are
    its spatial means and its signed map sum_k w_k relu(z)_k."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.DenseNet(8, (2, 2), 16, num_classes=3).double().eval()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    target = default_cam_target(model)
    assert target.name == "features.norm5" and target.then_relu
    with torch.no_grad():
        z = model.features(x)
        logits = model(x)
    targets = torch.tensor([2, 0])
    positions = z[0, 0].numel()
    gradient = model.classifier.weight[targets].detach()[:, :, None, None] / positions
    weights = (gradient * (z > 0)).mean((2, 3))
    expected = torch.einsum("nk,nkij->nij", weights, F.relu(z))
    raw = GradCAM(model, normalization="none").attribute(x, target=targets)
    upsampled = F.interpolate(expected[:, None], (16, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(raw[:, 0], upsampled[:, 0])
    xgrad = XGradCAM(model, normalization="none").attribute(x, target=targets)
    # XGrad-CAM: sum_ij g A / sum_ij A; where A = relu(z) > 0, g = W_tk / (h w).
    exact = torch.einsum("nk,nkij->nij", gradient[:, :, 0, 0], F.relu(z))
    torch.testing.assert_close(
        xgrad[:, 0], F.interpolate(exact[:, None], (16, 16), mode="bilinear")[:, 0]
    )
    with torch.no_grad():
        assert torch.equal(model(x), logits)


def test_a_one_by_one_map_warns_naming_the_layer_and_what_to_do() -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    method = build_method("gradcam", model)
    with pytest.warns(UserWarning, match=r"'layer4\.1' gives a 1 x 1 map") as caught:
        maps = method.attribute(torch.randn(2, 3, 32, 32), target=[0, 1])
    message = str(caught[0].message)
    assert "32 x 32" in message and "larger inputs" in message and "earlier target_layer" in message
    assert torch.count_nonzero(maps) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        method.attribute(torch.randn(1, 3, 64, 64))  # 2 x 2: no warning


def test_the_issues_monai_densenet121_at_32_cubed_warns() -> None:
    monai = pytest.importorskip("monai")
    torch.manual_seed(0)
    model = monai.networks.nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).eval()
    with pytest.warns(UserWarning, match=r"'class_layers\.relu' gives a 1 x 1 x 1 map"):
        maps = build_method("gradcam", model).attribute(torch.randn(1, 1, 32, 32, 32), target=1)
    assert maps.shape == (1, 1, 32, 32, 32) and torch.count_nonzero(maps) == 0
