"""The library at its edges (issue 21): Captum's NoiseTunnel around every registered
method, DeepSHAP refusing models it cannot attribute before any hook, and clear errors
for inputs the metrics and methods cannot take."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from captum_ifim import RegisteredMethod, available_methods, build_method, get_method_spec
from tests._baseline_models import assert_same_state, images, model_state, small_cnn

pytest.importorskip("pytorch_grad_cam")
pytest.importorskip("shap")

SIDE = 16


def _build(name: str, model: nn.Module) -> RegisteredMethod:
    options: dict[str, Any] = {}
    if name == "integrated-gradients":
        options["n_steps"] = 2
    if get_method_spec(name).needs_background:
        options["background"] = images(1, 1, side=SIDE, seed=7)
        options["additivity_tolerance"] = 1e-4
    return build_method(name, model, **options)


# 1. NoiseTunnel(build_method(name, model)) ---------------------------------------------------


@pytest.mark.parametrize("name", available_methods())
def test_noise_tunnel_smooths_every_registered_method_with_its_fixed_options(name: str) -> None:
    """NoiseTunnel's mean over n noisy copies is the mean of the method's own maps of those
    copies (same draws), and with no noise it is the method's map: the fixed options stay
    (``ifim-insensitive`` gives I(x) = x - S(x), not S(x)). NoiseTunnel runs the method
    under ``torch.no_grad()``, so this also checks that gradient methods still work there."""
    from captum.attr import NoiseTunnel

    model = small_cnn(1)
    before = model_state(model)
    method = _build(name, model)
    x = images(2, 1, side=SIDE, seed=3).requires_grad_()
    targets = [0, 2]
    own = method.attribute(x, target=targets)
    scale = float(own.abs().amax())
    assert scale > 0
    tunnel = NoiseTunnel(method)
    assert tunnel.multiplies_by_inputs == (name == "integrated-gradients")

    still = tunnel.attribute(x, nt_samples=3, stdevs=0.0, target=targets)
    assert type(still) is torch.Tensor and still.shape == x.shape and still.dtype == x.dtype
    if get_method_spec(name).deterministic:
        torch.testing.assert_close(still, own, rtol=1e-5, atol=1e-6 * scale)

    n, stdev = 3, 0.2
    torch.manual_seed(11)
    smoothed = tunnel.attribute(x, nt_samples=n, stdevs=stdev, target=targets)
    torch.manual_seed(11)  # NoiseTunnel's draws: torch.normal(0, stdev) on the global RNG
    noisy = x.detach().repeat_interleave(n, 0) + torch.normal(
        0, torch.full((2 * n, 1, SIDE, SIDE), stdev)
    )
    per_copy = method.attribute(noisy, target=torch.tensor(targets).repeat_interleave(n))
    torch.testing.assert_close(
        smoothed, per_copy.view(2, n, 1, SIDE, SIDE).mean(1), rtol=1e-4, atol=1e-5 * scale
    )
    assert not torch.allclose(smoothed, own, rtol=1e-3, atol=0)

    assert_same_state(before, model_state(model, copy_tensors=False))
    assert x.requires_grad and x.grad is None and x.is_leaf


def test_noise_tunnel_keeps_the_insensitive_component() -> None:
    """``ifim-insensitive`` through NoiseTunnel is x - S(x), with S(x) the sensitive map."""
    from captum.attr import NoiseTunnel

    model = small_cnn(1)
    x = images(2, 1, side=SIDE, seed=4)
    sensitive = build_method("ifim-sensitive", model).attribute(x)
    insensitive = NoiseTunnel(build_method("ifim-insensitive", model)).attribute(
        x, nt_samples=2, stdevs=0.0
    )
    torch.testing.assert_close(insensitive, x - sensitive, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(insensitive, sensitive, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("name", ["saliency", "integrated-gradients", "gradcam", "ifim-sensitive"])
def test_gradient_methods_work_under_no_grad(name: str) -> None:
    model = small_cnn(1)
    method = _build(name, model)
    x = images(2, 1, side=SIDE, seed=5)
    own = method.attribute(x, target=[1, 0])
    with torch.no_grad():
        quiet = method.attribute(x, target=[1, 0])
    assert torch.is_grad_enabled()
    torch.testing.assert_close(quiet, own, rtol=0, atol=0)
