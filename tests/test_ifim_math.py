"""The iFIM decomposition against brute-force references and the paper's identities."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_ifim import IFIMDecomposition
from captum_ifim.functional import gram_matrix, per_sample_row_gradients, psd_sqrt

from ._ifim_reference import (
    brute_force_fisher,
    sigmoid_log_likelihoods,
    softmax_log_likelihoods,
    top_eigenspace,
)

TIGHT = {"rtol": 1e-9, "atol": 1e-11}


def _check_against_brute_force(ifim, model, x, log_likelihoods, num_classes_minus_one, energy):
    result = ifim.decompose(x, energy=energy)
    shape = tuple(x.shape[1:])
    for n in range(x.shape[0]):
        fisher, _ = brute_force_fisher(log_likelihoods(model, shape), x[n].flatten())
        rank = int(result.rank[n])
        values, projector = top_eigenspace(fisher, int(result.num_components[n]))
        assert rank == num_classes_minus_one
        torch.testing.assert_close(result.eigenvalues[n, :rank], values[:rank], **TIGHT)
        torch.testing.assert_close(
            result.sensitive[n].flatten(), projector @ x[n].flatten(), **TIGHT
        )
        vectors = result.eigenvectors[n].reshape(result.eigenvectors.shape[1], -1)
        # Each u_i is a unit eigenvector of F with eigenvalue lambda_i (eq. 9).
        torch.testing.assert_close(
            fisher @ vectors[:rank].T, vectors[:rank].T * result.eigenvalues[n, :rank], **TIGHT
        )
    return result


@pytest.mark.parametrize("num_classes", [2, 3, 5])
@pytest.mark.parametrize("energy", [0.5, 0.9, 1.0])
def test_softmax_matches_full_fisher(make_net, num_classes, energy):
    model = make_net(num_classes=num_classes)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    _check_against_brute_force(
        IFIMDecomposition(model), model, x, softmax_log_likelihoods, num_classes - 1, energy
    )


@pytest.mark.parametrize("head", ["probs", "log_probs"])
def test_probability_heads_match_full_fisher(make_net, head):
    base = make_net(num_classes=4)
    final = nn.Softmax(dim=1) if head == "probs" else nn.LogSoftmax(dim=1)
    model = nn.Sequential(base, final).eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    result = _check_against_brute_force(
        IFIMDecomposition(model, output=head), base, x, softmax_log_likelihoods, 3, 0.9
    )
    expected = IFIMDecomposition(base).decompose(x)
    torch.testing.assert_close(result.eigenvalues, expected.eigenvalues, **TIGHT)


def test_sigmoid_matches_full_fisher(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    _check_against_brute_force(
        IFIMDecomposition(model, output="sigmoid"), model, x, sigmoid_log_likelihoods, 3, 0.9
    )


def test_full_gram_annihilates_sqrt_p(make_net):
    """K sqrt(p) = 0 for the paper's G = [sqrt(p_c) g_c] (eqs. 5, 7): rank <= C - 1."""
    model = make_net(num_classes=4)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64).requires_grad_(True)
    log_probs = torch.log_softmax(model(x), dim=1)
    (jacobian,) = per_sample_row_gradients(log_probs, (x,))
    probs = log_probs.detach().exp()
    gram = gram_matrix(jacobian.flatten(2), psd_sqrt(torch.diag_embed(probs)))
    residual = gram @ probs.sqrt().unsqueeze(2)
    assert residual.abs().max() < 1e-12 * gram.abs().max()
    # Its nonzero spectrum is the one IFIMDecomposition finds with C - 1 gradients.
    full = torch.linalg.eigvalsh(gram).flip(-1)[:, :3]
    torch.testing.assert_close(full, IFIMDecomposition(model).decompose(x).eigenvalues, **TIGHT)


def test_components_orthogonal_and_sum_to_input(make_net):
    model = make_net(num_classes=5)
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    result = IFIMDecomposition(model).decompose(x, energy=0.7)
    torch.testing.assert_close(result.sensitive + result.insensitive, x, **TIGHT)
    inner = (result.sensitive * result.insensitive).flatten(1).sum(1)
    assert inner.abs().max() < 1e-10 * x.flatten(1).norm(dim=1).pow(2).max()
    gram = torch.einsum("nid,njd->nij", *(result.eigenvectors.flatten(2),) * 2)
    torch.testing.assert_close(gram, torch.eye(4, dtype=gram.dtype).expand(4, 4, 4), **TIGHT)


def test_kl_second_order_identity_along_leading_eigenvector(make_net):
    """KL(p(x) || p(x + eps u_1)) / (eps^2 lambda_1 / 2) -> 1 as eps -> 0 (eq. 18)."""
    model = make_net(num_classes=3)
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    result = IFIMDecomposition(model).decompose(x)
    u1, lam1 = result.eigenvectors[:, 0], result.eigenvalues[0, 0]
    log_p = torch.log_softmax(model(x), dim=1)
    errors = []
    for eps in (1e-1, 1e-2, 1e-3):
        log_q = torch.log_softmax(model(x + eps * u1), dim=1)
        kl = (log_p.exp() * (log_p - log_q)).sum()
        errors.append(abs(float(kl.detach() / (eps**2 * lam1 / 2)) - 1))
    assert errors[-1] < 1e-2
    assert errors[0] > errors[1] > errors[2]


def test_binary_softmax_equals_eq_12(make_net):
    """C = 2: F = p1 p2 grad s grad s^T, so lambda = p1 p2 |grad s|^2, u = grad s/|grad s|."""
    model = make_net(num_classes=2)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    logits = model(x)
    (grad_s,) = torch.autograd.grad((logits[:, 0] - logits[:, 1]).sum(), x)
    p = torch.softmax(logits.detach(), dim=1)
    grad_s = grad_s.flatten(1)
    result = IFIMDecomposition(model).decompose(x.detach())
    expected = p[:, 0] * p[:, 1] * grad_s.pow(2).sum(1)
    torch.testing.assert_close(result.eigenvalues[:, 0], expected, **TIGHT)
    direction = grad_s / grad_s.norm(dim=1, keepdim=True)
    u = result.eigenvectors.flatten(2)[:, 0]
    torch.testing.assert_close((u * direction).sum(1).abs(), torch.ones(3, dtype=u.dtype))
    # With one nonzero eigenvalue any energy selects it: x_sens = (u^T x) u.
    xs = x.detach().flatten(1)
    torch.testing.assert_close(
        result.sensitive.flatten(1), (u * xs).sum(1, keepdim=True) * u, **TIGHT
    )


def test_single_logit_sigmoid_equals_softmax_of_z_and_zero(make_net):
    model = make_net(num_classes=1)
    paired = nn.Sequential()
    paired.forward = lambda x: torch.cat([model(x), torch.zeros_like(model(x))], dim=1)
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    sigmoid = IFIMDecomposition(model, output="sigmoid").decompose(x)
    softmax = IFIMDecomposition(paired.forward).decompose(x)
    torch.testing.assert_close(sigmoid.eigenvalues, softmax.eigenvalues, **TIGHT)
    torch.testing.assert_close(sigmoid.sensitive, softmax.sensitive, **TIGHT)
    torch.testing.assert_close(sigmoid.probs[:, 0], softmax.probs[:, 0], **TIGHT)


def test_batched_equals_one_by_one(make_net):
    model = make_net(num_classes=4)
    x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    ifim = IFIMDecomposition(model)
    batched = ifim.decompose(x, energy=0.8)
    chunked = ifim.decompose(x, energy=0.8, internal_batch_size=2)
    for n in range(5):
        single = ifim.decompose(x[n : n + 1], energy=0.8)
        for name in ("eigenvalues", "eigenvectors", "sensitive", "insensitive", "probs"):
            torch.testing.assert_close(getattr(batched, name)[n], getattr(single, name)[0])
        assert batched.num_components[n] == single.num_components[0]
    for name in ("eigenvalues", "eigenvectors", "sensitive", "num_components"):
        torch.testing.assert_close(getattr(batched, name), getattr(chunked, name))


def test_tuple_inputs_equal_concatenated_input():
    """Two inputs are one input of concatenated pixels: same spectrum and components."""
    torch.manual_seed(3)
    linear = nn.Linear(10, 3).double()
    model = nn.Sequential(nn.Tanh(), linear).eval()

    def two_inputs(a, b):
        return model(torch.cat([a.flatten(1), b.flatten(1)], dim=1))

    a = torch.randn(3, 2, 2, dtype=torch.float64)
    b = torch.randn(3, 6, dtype=torch.float64)
    split = IFIMDecomposition(two_inputs).decompose((a, b), energy=1.0)
    joined = IFIMDecomposition(model).decompose(torch.cat([a.flatten(1), b], dim=1), energy=1.0)
    assert isinstance(split.sensitive, tuple) and split.sensitive[0].shape == a.shape
    assert split.eigenvectors[0].shape == (3, 2, 2, 2)
    torch.testing.assert_close(split.eigenvalues, joined.eigenvalues, **TIGHT)
    rejoined = torch.cat([split.sensitive[0].flatten(1), split.sensitive[1]], dim=1)
    torch.testing.assert_close(rejoined, joined.sensitive, **TIGHT)


def test_additional_forward_args_reach_the_model(make_net):
    model = make_net(num_classes=3)

    def scaled(x, scale):
        return model(x * scale)

    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    direct = IFIMDecomposition(lambda x: model(2.0 * x)).decompose(x)
    via_args = IFIMDecomposition(scaled).decompose(x, additional_forward_args=(2.0,))
    torch.testing.assert_close(direct.eigenvalues, via_args.eigenvalues, **TIGHT)
    per_sample = torch.tensor([2.0, 2.0], dtype=torch.float64).view(2, 1, 1, 1)
    chunked = IFIMDecomposition(scaled).decompose(
        x, additional_forward_args=(per_sample,), internal_batch_size=1
    )
    torch.testing.assert_close(direct.eigenvalues, chunked.eigenvalues, **TIGHT)


@pytest.mark.parametrize("shape", [(7,), (2, 5, 5), (1, 3, 4, 4)])
def test_any_input_rank(shape):
    torch.manual_seed(5)
    numel = int(torch.tensor(shape).prod())
    model = nn.Sequential(nn.Flatten(), nn.Linear(numel, 6), nn.Tanh(), nn.Linear(6, 3))
    model = model.double().eval()
    x = torch.randn(2, *shape, dtype=torch.float64)
    result = _check_against_brute_force(
        IFIMDecomposition(model), model, x, softmax_log_likelihoods, 2, 0.9
    )
    assert result.sensitive.shape == x.shape


def test_float32_close_to_float64(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    exact = IFIMDecomposition(model).decompose(x)
    single = IFIMDecomposition(model.float()).decompose(x.float())
    assert single.sensitive.dtype == torch.float32
    torch.testing.assert_close(single.eigenvalues, exact.eigenvalues, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(single.sensitive, exact.sensitive.float(), rtol=1e-3, atol=1e-4)


def test_saturated_softmax_gives_zero_sensitive_component():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([0.0, 1e4]))
    x = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    result = IFIMDecomposition(model).decompose(x)
    assert torch.equal(result.sensitive, torch.zeros_like(x))
    assert torch.equal(result.insensitive, x)
    assert torch.equal(result.num_components, torch.zeros(3, dtype=torch.long))
    assert torch.isfinite(result.eigenvectors).all()


def test_zero_fisher_from_captum_reference_model():
    """Captum's BasicModel_ConvNet has equal fc2 rows: logit differences are constant, F = 0."""
    from captum.testing.helpers.basic_models import BasicModel_ConvNet

    model = BasicModel_ConvNet().eval()
    x = torch.randn(2, 1, 10, 10)
    model.softmax = nn.Identity()
    exact = IFIMDecomposition(model).decompose(x)
    assert torch.equal(exact.rank, torch.zeros(2, dtype=torch.long))
    assert torch.equal(exact.insensitive, x)
    # Through its float32 softmax, rounding leaves eigenvalues near 1e-14: an absolute
    # floor is the documented way to call them zero.
    model.softmax = nn.Softmax(dim=1)
    rounded = IFIMDecomposition(model, output="probs", eigenvalue_atol=1e-10).decompose(x)
    assert torch.equal(rounded.rank, torch.zeros(2, dtype=torch.long))
    assert torch.equal(rounded.insensitive, x)


def test_low_rank_model_reports_its_rank():
    """A model whose 4 logits depend on x through one direction has rank 1, not C - 1."""
    torch.manual_seed(2)
    direction = nn.Linear(5, 1).double()
    spread = nn.Linear(1, 4).double()
    model = nn.Sequential(direction, nn.Tanh(), spread).eval()
    x = torch.randn(3, 5, dtype=torch.float64)
    result = IFIMDecomposition(model).decompose(x, energy=1.0)
    assert torch.equal(result.rank, torch.ones(3, dtype=torch.long))
    u = result.eigenvectors[:, 0]
    w = direction.weight[0].detach()
    torch.testing.assert_close((u @ w).abs(), w.norm().expand(3), **TIGHT)


def test_class_mass_keeps_the_terms_of_the_most_probable_classes():
    """F_S = sum_{c in S} p_c g_c g_c^T, and F - F_S obeys the documented bound."""
    torch.manual_seed(11)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 10)).double().eval()
    with torch.no_grad():
        model[2].weight.mul_(3)
    x = torch.randn(3, 6, dtype=torch.float64)
    mass = 0.8
    restricted = IFIMDecomposition(model, class_mass=mass).decompose(x, energy=1.0)
    for n in range(3):
        fisher, probs = brute_force_fisher(softmax_log_likelihoods(model, (6,)), x[n])
        jacobian = torch.autograd.functional.jacobian(softmax_log_likelihoods(model, (6,)), x[n])
        order = probs.argsort(descending=True)
        size = int((probs[order].cumsum(0) - probs[order] < mass).sum())
        kept = order[:size]
        fisher_s = (jacobian[kept].T * probs[kept]) @ jacobian[kept]
        rank = int(restricted.rank[n])
        values, projector = top_eigenspace(fisher_s, rank)
        assert rank == min(size, 6)
        torch.testing.assert_close(restricted.eigenvalues[n, :rank], values[:rank], **TIGHT)
        torch.testing.assert_close(restricted.sensitive[n], projector @ x[n], **TIGHT)
        torch.testing.assert_close(restricted.retained_mass[n], probs[kept].sum(), **TIGHT)
        assert restricted.retained_mass[n] >= mass
        dropped = [c for c in range(10) if c not in kept.tolist()]
        error = torch.linalg.matrix_norm(fisher - fisher_s, ord=2)
        largest_dropped = jacobian[dropped].pow(2).sum(1).max()
        assert error <= (1 - restricted.retained_mass[n]) * largest_dropped + 1e-12
    exact = IFIMDecomposition(model).decompose(x, energy=1.0)
    everything = IFIMDecomposition(model, class_mass=1.0).decompose(x, energy=1.0)
    torch.testing.assert_close(everything.eigenvalues, exact.eigenvalues, **TIGHT)
    assert torch.equal(exact.retained_mass, torch.ones(3, dtype=torch.float64))


def test_class_mass_rejects_bad_values(make_net):
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="class_mass"):
            IFIMDecomposition(make_net(), class_mass=bad)
    with pytest.raises(ValueError, match="sigmoid"):
        IFIMDecomposition(make_net(), output="sigmoid", class_mass=0.9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(make_net):
    model = make_net(num_classes=4)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    on_cpu = IFIMDecomposition(model).decompose(x, energy=0.8)
    on_gpu = IFIMDecomposition(model.cuda()).decompose(x.cuda(), energy=0.8)
    assert on_gpu.sensitive.device.type == "cuda"
    torch.testing.assert_close(on_gpu.eigenvalues.cpu(), on_cpu.eigenvalues, **TIGHT)
    torch.testing.assert_close(on_gpu.sensitive.cpu(), on_cpu.sensitive, **TIGHT)


class _HostReads(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the operations that read a tensor's values back to the host (``item()``,
    ``bool(t)``, ``float(t)``; ``nonzero`` and ``masked_select``, whose output size does):
    on a GPU each waits for the device."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__
        if name.startswith(("_local_scalar_dense", "nonzero", "masked_select")):
            self.count += 1
        return func(*args, **(kwargs or {}))


_DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]


@pytest.mark.parametrize("device", _DEVICES)
@pytest.mark.parametrize("num_classes", [2, 3, 10])
@pytest.mark.parametrize("batch", [1, 4])
def test_the_hot_path_reads_the_device_three_times_whatever_c_and_n(device, num_classes, batch):
    """The registry's iFIM reads values back three times a call, all input and output
    checks (the inputs' finiteness in the registry's wrapper and in ``decompose``, the
    outputs' finiteness); no read per class, per sample or per backward pass."""
    from captum_ifim import build_method
    from comparisons.models import build_model

    model = build_model("shallow-cnn", 1, num_classes, (16, 16), seed=0).eval().to(device)
    x = torch.randn(batch, 1, 16, 16, device=device)
    for backward in ("sequential", "batched"):
        method = build_method("ifim-sensitive", model, backward=backward)
        method.attribute(x)  # first calls (lazy initialisation) apart
        with _HostReads() as reads:
            maps = method.attribute(x)
        assert reads.count == 3, (backward, reads.count)
        assert maps.device.type == device and maps.dtype == x.dtype
