"""IFIMDecomposition inside Captum: NoiseTunnel, captum.metrics, visualization."""

from __future__ import annotations

import matplotlib
import torch
from captum.attr import NoiseTunnel, Saliency, visualization
from captum.metrics import infidelity, sensitivity_max

from captum_ifim import IFIMDecomposition

matplotlib.use("Agg")


def test_noise_tunnel_averages_decompositions_of_noisy_inputs(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    ifim = IFIMDecomposition(model)
    tunnel = NoiseTunnel(ifim)
    torch.manual_seed(7)
    smoothed = tunnel.attribute(x, nt_type="smoothgrad", nt_samples=4, stdevs=0.1, energy=0.9)
    assert smoothed.shape == x.shape and torch.isfinite(smoothed).all()
    # Re-draw the same noise and average by hand: NoiseTunnel adds N(0, 0.1^2) per sample.
    torch.manual_seed(7)
    noise = torch.normal(0.0, torch.full((4 * 2, 1, 6, 6), 0.1))
    noisy = x.repeat_interleave(4, dim=0) + noise
    by_hand = ifim.attribute(noisy, energy=0.9).view(2, 4, 1, 6, 6).mean(1)
    torch.testing.assert_close(smoothed, by_hand)


def test_noise_tunnel_insensitive_component(make_net):
    model = make_net(num_classes=2)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    out = NoiseTunnel(IFIMDecomposition(model)).attribute(
        x, nt_type="smoothgrad_sq", nt_samples=3, stdevs=0.05, component="insensitive"
    )
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_captum_infidelity_and_sensitivity(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    ifim = IFIMDecomposition(model)
    attributions = ifim.attribute(x)

    def perturb(inputs):
        noise = 0.01 * torch.randn_like(inputs)
        return noise, inputs - noise

    scores = infidelity(model, perturb, x, attributions, target=0, n_perturb_samples=4)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    sensitivity = sensitivity_max(ifim.attribute, x, n_perturb_samples=3, perturb_radius=0.01)
    assert sensitivity.shape == (3,) and torch.isfinite(sensitivity).all()
    # The explanation of the sensitive map is smooth in x: a tiny radius moves it little.
    assert (sensitivity < 0.5).all()


def test_visualize_image_attr_accepts_output(make_net):
    model = make_net(in_channels=3, num_classes=3)
    x = torch.rand(1, 3, 6, 6, dtype=torch.float64)
    attribution = IFIMDecomposition(model).attribute(x)
    figure, axis = visualization.visualize_image_attr(
        attribution[0].permute(1, 2, 0).numpy(),
        x[0].permute(1, 2, 0).numpy(),
        method="blended_heat_map",
        sign="absolute_value",
        use_pyplot=False,
    )
    assert figure is not None and axis is not None


def test_sensitive_map_costs_like_saliency_in_backward_passes(make_net):
    """C = 2: one backward pass per batch, the same count as Captum's Saliency."""
    model = make_net(num_classes=2)
    calls = {"count": 0}

    def count_backward(module, grad_input, grad_output):
        calls["count"] += 1

    handle = model.conv.register_full_backward_hook(count_backward)
    try:
        x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
        IFIMDecomposition(model).attribute(x)
        ifim_calls, calls["count"] = calls["count"], 0
        Saliency(model).attribute(x, target=0)
        assert ifim_calls == calls["count"] == 1
    finally:
        handle.remove()
