"""Principal angles and the cos^2 overlap of subspaces, and the iFIM comparison of two models.

References: hand-built subspaces (identical, orthogonal, a rotation by a known angle),
scipy's ``subspace_angles``, projector traces ``tr(P1 P2)``, and the brute-force d x d iFIM.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from captum_ifim.functional import energy_components
from captum_ifim.metrics import (
    SubspaceComparison,
    ifim_subspace_overlap,
    principal_angles,
    subspace_overlap,
)
from tests._ifim_reference import brute_force_fisher, softmax_log_likelihoods

E = torch.eye(6, dtype=torch.float64)


def random_bases(n: int, d: int, k: int, seed: int) -> torch.Tensor:
    """(n, d, k) orthonormal columns from QR of Gaussian matrices."""
    generator = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(n, d, k, generator=generator, dtype=torch.float64)).Q


def random_orthogonal(k: int, seed: int) -> torch.Tensor:
    return random_bases(1, k, k, seed)[0]


def columns(*vectors: torch.Tensor) -> torch.Tensor:
    """One basis (1, d, K) from column vectors."""
    return torch.stack(vectors, dim=1)[None]


def test_identical_subspaces_overlap_one_at_zero_angles() -> None:
    U = random_bases(4, 10, 3, seed=0)
    torch.testing.assert_close(subspace_overlap(U, U), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(principal_angles(U, U), torch.zeros(4, 3, dtype=torch.float64))


def test_orthogonal_subspaces_overlap_zero_at_right_angles() -> None:
    U1, U2 = columns(E[0], E[1]), columns(E[2], E[3])
    assert subspace_overlap(U1, U2).item() == 0.0
    torch.testing.assert_close(
        principal_angles(U1, U2), torch.full((1, 2), math.pi / 2, dtype=torch.float64)
    )


@pytest.mark.parametrize("theta", [1e-6, 0.3, math.pi / 4, 1.2, math.pi / 2 - 1e-6])
def test_a_rotation_by_theta_in_a_plane_gives_cos_squared(theta: float) -> None:
    rotated = math.cos(theta) * E[0] + math.sin(theta) * E[1]
    one = subspace_overlap(columns(E[0]), columns(rotated))
    torch.testing.assert_close(one, torch.tensor([math.cos(theta) ** 2], dtype=torch.float64))
    angle = principal_angles(columns(E[0]), columns(rotated))
    # accurate to rounding at small and large angles alike (sines below pi/4)
    torch.testing.assert_close(
        angle, torch.tensor([[theta]], dtype=torch.float64), rtol=1e-9, atol=0
    )
    # with a shared direction beside it: angles (0, theta), overlap (1 + cos^2) / 2
    two = subspace_overlap(columns(E[0], E[2]), columns(rotated, E[2]))
    torch.testing.assert_close(
        two, torch.tensor([(1 + math.cos(theta) ** 2) / 2], dtype=torch.float64)
    )
    angles = principal_angles(columns(E[0], E[2]), columns(rotated, E[2]))
    torch.testing.assert_close(
        angles, torch.tensor([[0.0, theta]], dtype=torch.float64), rtol=1e-9, atol=1e-15
    )


def test_rotating_the_whole_space_changes_nothing() -> None:
    U1, U2 = random_bases(3, 8, 2, seed=1), random_bases(3, 8, 3, seed=2)
    Q = random_orthogonal(8, seed=3)
    torch.testing.assert_close(subspace_overlap(Q @ U1, Q @ U2), subspace_overlap(U1, U2))
    torch.testing.assert_close(principal_angles(Q @ U1, Q @ U2), principal_angles(U1, U2))


@pytest.mark.parametrize(("k1", "k2"), [(1, 3), (3, 1), (2, 4), (3, 3)])
def test_against_scipy_for_different_dimensions(k1: int, k2: int) -> None:
    U1, U2 = random_bases(5, 9, k1, seed=4), random_bases(5, 9, k2, seed=5)
    angles = principal_angles(U1, U2)
    overlap = subspace_overlap(U1, U2)
    assert angles.shape == (5, min(k1, k2))
    for n in range(5):
        reference = np.sort(scipy.linalg.subspace_angles(U1[n].numpy(), U2[n].numpy()))
        np.testing.assert_allclose(angles[n].numpy(), reference, rtol=1e-10, atol=1e-12)
        P1, P2 = U1[n] @ U1[n].T, U2[n] @ U2[n].T
        expected = float(torch.trace(P1 @ P2)) / min(k1, k2)
        assert overlap[n].item() == pytest.approx(expected, rel=1e-12)
        assert overlap[n].item() == pytest.approx(float(np.mean(np.cos(reference) ** 2)))
    torch.testing.assert_close(subspace_overlap(U2, U1), overlap)  # symmetric


def test_a_subspace_inside_a_larger_one_overlaps_one() -> None:
    big = random_bases(2, 7, 3, seed=6)
    mixed = big @ random_orthogonal(3, seed=7)
    torch.testing.assert_close(
        subspace_overlap(mixed[:, :, :2], big), torch.ones(2, dtype=torch.float64)
    )


def test_batched_equals_one_by_one() -> None:
    U1, U2 = random_bases(6, 12, 2, seed=8), random_bases(6, 12, 3, seed=9)
    overlap, angles = subspace_overlap(U1, U2), principal_angles(U1, U2)
    for n in range(6):
        torch.testing.assert_close(
            subspace_overlap(U1[n : n + 1], U2[n : n + 1]), overlap[n : n + 1]
        )
        torch.testing.assert_close(
            principal_angles(U1[n : n + 1], U2[n : n + 1]), angles[n : n + 1]
        )


def test_invariant_to_the_basis_chosen_within_each_subspace() -> None:
    U1, U2 = random_bases(4, 10, 3, seed=10), random_bases(4, 10, 2, seed=11)
    Q1, Q2 = random_orthogonal(3, seed=12), random_orthogonal(2, seed=13)
    torch.testing.assert_close(subspace_overlap(U1 @ Q1, U2 @ Q2), subspace_overlap(U1, U2))
    torch.testing.assert_close(principal_angles(U1 @ Q1, U2 @ Q2), principal_angles(U1, U2))
    torch.testing.assert_close(subspace_overlap(-U1, U2), subspace_overlap(U1, U2))  # signs


def test_per_example_dimensions_equal_slicing() -> None:
    U1, U2 = random_bases(4, 8, 3, seed=14), random_bases(4, 8, 2, seed=15)
    k1, k2 = torch.tensor([3, 1, 2, 3]), torch.tensor([2, 2, 1, 1])
    overlap = subspace_overlap(U1, U2, k1, k2)
    angles = principal_angles(U1, U2, k1, k2)
    for n in range(4):
        a, b = int(k1[n]), int(k2[n])
        part1, part2 = U1[n : n + 1, :, :a], U2[n : n + 1, :, :b]
        torch.testing.assert_close(overlap[n : n + 1], subspace_overlap(part1, part2))
        k = min(a, b)
        torch.testing.assert_close(angles[n : n + 1, :k], principal_angles(part1, part2))
        assert angles[n, k:].isnan().all()
    # columns past k are ignored, whatever they hold
    U1[k1 < 3, :, 2] = 5.0
    torch.testing.assert_close(subspace_overlap(U1, U2, k1, k2), overlap)


def test_an_empty_subspace_is_nan_with_a_warning_never_zero() -> None:
    U1, U2 = random_bases(3, 5, 2, seed=16), random_bases(3, 5, 2, seed=17)
    with pytest.warns(RuntimeWarning, match="1 of 3 examples have an empty subspace"):
        overlap = subspace_overlap(U1, U2, torch.tensor([2, 0, 1]), None)
    assert overlap[1].isnan() and not overlap[[0, 2]].isnan().any()
    with pytest.warns(RuntimeWarning, match="3 of 3"):
        assert subspace_overlap(U1, U2[:, :, :0]).isnan().all()
    assert principal_angles(U1, U2[:, :, :0]).shape == (3, 0)


def test_bad_input_is_refused() -> None:
    U = random_bases(2, 5, 2, seed=18)
    with pytest.raises(ValueError, match=r"expected U1 of shape \(N, d, K\)"):
        subspace_overlap(U[0], U)
    with pytest.raises(ValueError, match="same"):
        subspace_overlap(U, random_bases(2, 6, 2, seed=19))
    with pytest.raises(ValueError, match="orthonormal"):
        subspace_overlap(2 * U, U)
    with pytest.raises(ValueError, match=r"expected k2 in \[0, 2\]"):
        principal_angles(U, U, None, torch.tensor([1, 3]))
    with pytest.raises(ValueError, match="integer tensor"):
        subspace_overlap(U, U, torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="floating-point"):
        subspace_overlap(U.long(), U)


class Linear(nn.Module):
    """Logits ``W x`` of a flattened input."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.T


def test_two_binary_linear_models_overlap_by_their_margin_directions() -> None:
    # Binary softmax: F(x) = p0 p1 (w1 - w0)(w1 - w0)^T, so K = 1 and u_1 is the unit
    # margin direction; the overlap is the squared cosine of the two directions.
    generator = torch.Generator().manual_seed(20)
    wa, wb = torch.randn(2, 2, 12, generator=generator, dtype=torch.float64)
    x = 0.3 * torch.randn(5, 1, 3, 4, generator=generator, dtype=torch.float64)
    comparison = ifim_subspace_overlap(Linear(wa).eval(), Linear(wb).eval(), x)
    da, db = wa[1] - wa[0], wb[1] - wb[0]
    cosine = float(da @ db) / float(da.norm() * db.norm())
    torch.testing.assert_close(comparison.overlap, torch.full((5,), cosine**2, dtype=torch.float64))
    torch.testing.assert_close(
        comparison.angles, torch.full((5, 1), math.acos(abs(cosine)), dtype=torch.float64)
    )
    assert comparison.num_components_a.tolist() == comparison.num_components_b.tolist() == [1] * 5
    # S(x) = (u^T x) u: the maps of two margin directions correlate as the directions do
    centred_a, centred_b = da - da.mean(), db - db.mean()
    direction = float(centred_a @ centred_b) / float(centred_a.norm() * centred_b.norm())
    signs = torch.sign((x.flatten(1) @ da) * (x.flatten(1) @ db))
    torch.testing.assert_close(comparison.map_correlation, signs * direction)


def test_a_model_against_itself_gives_one(make_net) -> None:
    net = make_net(num_classes=4)
    x = torch.randn(6, 1, 6, 6, dtype=torch.float64)
    same = ifim_subspace_overlap(net, net, x, energy=0.95)
    assert isinstance(same, SubspaceComparison)
    torch.testing.assert_close(same.overlap, torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(same.map_correlation, torch.ones(6, dtype=torch.float64))
    assert torch.equal(same.num_components_a, same.num_components_b)
    assert same.angles.shape == (6, 3)
    k = same.num_components_a
    for n in range(6):
        assert same.angles[n, : k[n]].abs().max() < 1e-6 and same.angles[n, k[n] :].isnan().all()


def test_two_models_against_the_brute_force_ifim(make_net) -> None:
    torch.manual_seed(21)
    net_a = make_net(num_classes=4)
    net_b = make_net(num_classes=3)
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    energy = 0.8
    result = ifim_subspace_overlap(net_a, net_b, x, energy=energy, max_examples_per_batch=3)
    for n in range(4):
        projectors, bases = [], []
        for net, classes, counts in (
            (net_a, 4, result.num_components_a),
            (net_b, 3, result.num_components_b),
        ):
            fisher, _ = brute_force_fisher(softmax_log_likelihoods(net, (1, 6, 6)), x[n].flatten())
            values, vectors = torch.linalg.eigh(fisher)
            values, vectors = values.flip(0), vectors.flip(1)
            # the C - 1 nonzero eigenvalues and K of eq. 13 from them
            k = int(energy_components(values[None, : classes - 1], energy)[0])
            assert k == int(counts[n])
            bases.append(vectors[:, :k])
            projectors.append(vectors[:, :k] @ vectors[:, :k].T)
        k = min(b.shape[1] for b in bases)
        expected = float(torch.trace(projectors[0] @ projectors[1])) / k
        assert result.overlap[n].item() == pytest.approx(expected, rel=1e-8, abs=1e-10)
        reference = np.sort(scipy.linalg.subspace_angles(bases[0].numpy(), bases[1].numpy()))
        np.testing.assert_allclose(result.angles[n, :k].numpy(), reference, atol=1e-7)
        maps = [(p @ x[n].flatten()).numpy() for p in projectors]
        assert result.map_correlation[n].item() == pytest.approx(np.corrcoef(*maps)[0, 1])


def test_a_saturated_model_has_no_subspace_and_nan_overlap() -> None:
    weight = torch.zeros(2, 4, dtype=torch.float64)
    weight[1, 0] = 1e4  # p = (0, 1) exactly where x_0 > 0.1: a zero iFIM
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]], dtype=torch.float64)
    saturated = Linear(weight).eval()
    other = Linear(torch.randn(2, 4, dtype=torch.float64)).eval()
    with pytest.warns(RuntimeWarning, match="1 of 2 examples have an empty subspace"):
        result = ifim_subspace_overlap(saturated, other, x)
    assert result.num_components_a.tolist() == [0, 1]
    assert result.overlap[0].isnan() and result.map_correlation[0].isnan()
    assert result.angles[0].isnan().all() and not result.overlap[1].isnan()


def test_float32_models_and_inputs_are_orthonormalized_and_compared() -> None:
    torch.manual_seed(22)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(64, 3)).eval()
    x = torch.randn(3, 1, 6, 6)
    same = ifim_subspace_overlap(net, net, x)
    torch.testing.assert_close(same.overlap, torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"expected inputs to be a torch\.Tensor"):
        ifim_subspace_overlap(net, net, (x,))  # type: ignore[arg-type]
