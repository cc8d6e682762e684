"""The methods a refusal offers instead: never one that needs the same kind of per-module
rule as the method that refused (a model without a DeepLIFT rule has no LRP or DeepSHAP
rule for that module either)."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from captum_ifim import UnsupportedModelError, build_method

RULE_BASED = {"deepshap", "deeplift", "deeplift-shap", "layer-deeplift", "lrp"}


def _gelu_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.GELU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()


@pytest.mark.parametrize("name", ["deeplift", "lrp"])
def test_a_rule_based_refusal_offers_no_other_rule_based_method(name):
    with pytest.raises(UnsupportedModelError, match="GELU at '1'") as raised:
        build_method(name, _gelu_cnn()).attribute(torch.randn(2, 1, 8, 8), target=[0, 1])
    offered = re.search(r"Methods that work on this model: (.*)", str(raised.value))
    assert offered is not None
    names = {n.strip(" .") for n in offered.group(1).split(",")}
    assert {"saliency", "integrated-gradients", "gradcam", "occlusion"} <= names
    assert not names & RULE_BASED
