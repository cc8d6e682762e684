"""Local KL fidelity (eq. 18): measured KL against 1/2 eps^2 u^T F u."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_ifim import IFIMDecomposition
from captum_ifim.metrics import kl_fidelity, local_kl

from ._ifim_reference import brute_force_fisher, sigmoid_log_likelihoods, softmax_log_likelihoods


class LeftHalf(nn.Module):
    """A smooth classifier that only sees the left half of each image (columns 0..2)."""

    def __init__(self, num_outputs: int = 3) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(18, 8), nn.Tanh(), nn.Linear(8, num_outputs)
        )

    def forward(self, x):
        return self.net(x[..., :3])


def test_ratio_tends_to_one_along_the_leading_eigenvector(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    res = kl_fidelity(model, x, (1e-1, 1e-2, 1e-3, 1e-4))
    lam = IFIMDecomposition(model).decompose(x).eigenvalues[:, 0]
    torch.testing.assert_close(res.quadratic_form, lam)
    torch.testing.assert_close(res.predicted[:, -1], 0.5 * 1e-8 * lam)
    err = (res.ratio - 1).abs()
    assert (err[:, -1] < 1e-4).all()
    assert (err[:, -1] <= err[:, 0]).all()


def test_pixels_the_model_ignores_carry_zero_kl_and_zero_prediction():
    model = LeftHalf().double().eval()
    x = torch.randn(2, 2, 3, 6, dtype=torch.float64)
    direction = torch.zeros_like(x)
    direction[..., 3:] = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    res = kl_fidelity(model, x, (1e-2, 1.0, 10.0), directions=direction)
    assert torch.equal(res.measured, torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(res.quadratic_form, torch.zeros(2, dtype=torch.float64))
    assert torch.isnan(res.ratio).all()
    # The leading eigenvector itself has no weight on the ignored pixels.
    u1 = IFIMDecomposition(model).decompose(x).eigenvectors[:, 0]
    assert torch.equal(u1[..., 3:], torch.zeros_like(u1[..., 3:]))


@pytest.mark.parametrize("output", ["logits", "sigmoid"])
def test_any_direction_uses_the_full_spectrum_like_the_brute_force_fisher(output):
    model = LeftHalf(num_outputs=3).double().eval()
    x = torch.randn(2, 2, 3, 6, dtype=torch.float64)
    direction = torch.randn_like(x)
    res = kl_fidelity(model, x, (1e-4,), directions=direction, output=output)
    likelihoods = softmax_log_likelihoods if output == "logits" else sigmoid_log_likelihoods
    for n in range(2):
        fisher, _ = brute_force_fisher(likelihoods(model, (2, 3, 6)), x[n].flatten())
        u = direction[n].flatten() / direction[n].norm()
        torch.testing.assert_close(res.quadratic_form[n], u @ fisher @ u)
    assert ((res.ratio - 1).abs() < 1e-3).all()


def test_explicit_eigenpair_equals_default_and_reuses_decomposition(make_net):
    model = make_net(num_classes=2)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    decomposition = IFIMDecomposition(model).decompose(x)
    default = kl_fidelity(model, x, (1e-3, 1e-1))
    explicit = kl_fidelity(
        model,
        x,
        (1e-3, 1e-1),
        directions=decomposition.eigenvectors[:, 0],
        quadratic_form=decomposition.eigenvalues[:, 0],
    )
    reused = kl_fidelity(model, x, (1e-3, 1e-1), decomposition=decomposition)
    for other in (explicit, reused):
        torch.testing.assert_close(other.measured, default.measured)
        torch.testing.assert_close(other.ratio, default.ratio)


def test_local_kl_is_exact_kl_of_the_softmaxes():
    model = LeftHalf().double().eval()
    x, d = (
        torch.randn(2, 2, 3, 6, dtype=torch.float64),
        torch.randn(2, 2, 3, 6, dtype=torch.float64),
    )
    kl = local_kl(model, x, d, (0.5,), max_examples_per_batch=1)
    p, q = model(x).log_softmax(1), model(x + 0.5 * d).log_softmax(1)
    torch.testing.assert_close(kl[:, 0], (p.exp() * (p - q)).sum(1))


def test_constant_model_has_nan_ratio_not_an_error():
    x = torch.randn(2, 4, dtype=torch.float64)
    res = kl_fidelity(lambda t: torch.zeros(t.shape[0], 3, dtype=t.dtype) + 0 * t.sum(), x, (0.1,))
    assert torch.equal(res.measured, torch.zeros(2, 1, dtype=torch.float64))
    assert torch.isnan(res.ratio).all()


def test_bad_arguments():
    model = LeftHalf().double().eval()
    x = torch.randn(2, 2, 3, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="epsilons"):
        kl_fidelity(model, x, (0.0,))
    with pytest.raises(ValueError, match="epsilons"):
        kl_fidelity(model, x, ())
    with pytest.raises(ValueError, match="nonzero directions"):
        kl_fidelity(model, x, directions=torch.zeros_like(x))
    with pytest.raises(ValueError, match="directions of shape"):
        kl_fidelity(model, x, directions=torch.ones(2, 18, dtype=torch.float64))
    with pytest.raises(ValueError, match="together with quadratic_form"):
        kl_fidelity(model, x, quadratic_form=torch.ones(2))
