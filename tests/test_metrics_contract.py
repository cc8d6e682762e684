"""Contract tests for every metric: bad input raises clearly, nothing passed is modified,
and the registry's metadata is complete."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import captum.metrics
import pytest
import torch
from torch import nn

import captum_ifim.metrics as M

from ._metrics_models import BlockModel, block_data


def _setup():
    model = BlockModel().double().eval()
    x, y = block_data(num=4)
    return model, x, y, torch.rand_like(x)


def _runners():
    """Name -> call(model, x, y, attributions) for every metric taking a map or labels."""
    return {
        "contrastive": lambda m, x, y, a: M.contrastive_perturbation(m, x, y, a, fractions=(0.1,)),
        "contrastive-two-maps": lambda m, x, y, a: M.contrastive_perturbation(
            m, x, y, torch.rand_like(x), a, fractions=(0.1,)
        ),
        "deletion": lambda m, x, y, a: M.deletion_auc(m, x, a, y, steps=2),
        "insertion": lambda m, x, y, a: M.insertion_auc(m, x, a, y, steps=2),
        "energy": lambda m, x, y, a: M.energy_in_mask(a, torch.ones(x.shape[0], 8, 8)),
        "pointing": lambda m, x, y, a: M.pointing_game(a, torch.ones(x.shape[0], 8, 8)),
    }


MAP_RUNNERS = _runners()
LABEL_RUNNERS = {
    "contrastive": MAP_RUNNERS["contrastive"],
    "deletion": MAP_RUNNERS["deletion"],
    "fgsm": lambda m, x, y, a: M.fgsm(m, x, y, 0.1),
    "adversarial": lambda m, x, y, a: M.adversarial_correlation(m, lambda i, target: i, x, y, 0.1),
}


SHAPE = r"expected \w*attributions of shape"
BAD_MAPS = {
    "short-width": (lambda a: a[:, :, :, :7], SHAPE),
    "short-batch": (lambda a: a[:3], SHAPE),
    "extra-channels": (lambda a: a.repeat(1, 2, 1, 1), SHAPE),
    "flat": (lambda a: a.flatten(1), SHAPE),
    "nan": (lambda a: a.index_fill(2, torch.tensor([0]), float("nan")), "finite"),
    "inf": (lambda a: a.index_fill(3, torch.tensor([1]), float("inf")), "finite"),
}
# Without inputs (localization), the map defines the shape: a misfit shows on the mask,
# and any channel count is valid.
BAD_MAP_CASES = [
    (name, bad)
    for name in sorted(MAP_RUNNERS)
    for bad in BAD_MAPS
    if not (name in ("energy", "pointing") and bad == "extra-channels")
]


@pytest.mark.parametrize(("name", "bad"), BAD_MAP_CASES)
def test_bad_maps_raise(name, bad):
    model, x, y, a = _setup()
    transform, message = BAD_MAPS[bad]
    if name in ("energy", "pointing") and message == SHAPE:
        message = "expected masks of shape"
    with pytest.raises(ValueError, match=message):
        MAP_RUNNERS[name](model, x, y, transform(a))


@pytest.mark.parametrize("name", sorted(MAP_RUNNERS))
def test_single_channel_map_for_multichannel_inputs_is_accepted(name):
    model = BlockModel().double().eval()
    x, y = block_data(num=4, channels=3)
    MAP_RUNNERS[name](model, x, y, torch.rand(4, 1, 8, 8, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(LABEL_RUNNERS))
@pytest.mark.parametrize("labels", [[0, 1, 2, 0], [0, -1, 1, 0], [0, 1, 1]])
def test_labels_out_of_range_or_wrong_shape_raise(name, labels):
    model, x, _, a = _setup()
    with pytest.raises(ValueError, match=r"expected (labels|target)"):
        LABEL_RUNNERS[name](model, x, torch.tensor(labels), a)


@pytest.mark.parametrize("name", sorted(LABEL_RUNNERS))
def test_float_labels_raise_type_error(name):
    model, x, y, a = _setup()
    with pytest.raises(TypeError, match="integer"):
        LABEL_RUNNERS[name](model, x, y.double(), a)


@pytest.mark.parametrize("name", sorted(set(MAP_RUNNERS) | set(LABEL_RUNNERS)))
def test_empty_batch_raises(name):
    model, x, y, a = _setup()
    runner = {**MAP_RUNNERS, **LABEL_RUNNERS}[name]
    with pytest.raises(ValueError, match=r"non-empty|N > 0"):
        runner(model, x[:0], y[:0], a[:0])


@pytest.mark.parametrize("fractions", [(0.0,), (1.5,), (0.1, -0.2), ()])
def test_fractions_outside_unit_interval_raise(fractions):
    model, x, y, a = _setup()
    with pytest.raises(ValueError, match="fraction"):
        M.contrastive_perturbation(model, x, y, a, fractions=fractions)


def test_other_bad_arguments():
    model, x, y, a = _setup()
    with pytest.raises(ValueError, match="low_rule"):
        M.contrastive_perturbation(model, x, y, a, low_rule="bottomk")
    with pytest.raises(ValueError, match="noise of the inputs' shape"):
        M.contrastive_perturbation(model, x, y, a, noise=torch.zeros(4, 1, 8, 7))
    with pytest.raises(ValueError, match="max_examples_per_batch"):
        M.deletion_auc(model, x, a, max_examples_per_batch=0)
    with pytest.raises(ValueError, match="epsilon"):
        M.fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="clamp"):
        M.fgsm(model, x, y, 0.1, clamp=(1.0, 0.0))
    with pytest.raises(TypeError, match="single tensor"):
        M.fgsm(model, (x,), y, 0.1)
    with pytest.raises(ValueError, match="finite inputs"):
        M.fgsm(model, x.index_fill(3, torch.tensor([0]), float("nan")), y, 0.1)
    with pytest.raises(ValueError, match="steps"):
        M.deletion_auc(model, x, a, steps=0)
    with pytest.raises(ValueError, match="spatial_dims"):
        M.deletion_auc(model, x, a, spatial_dims=4)
    with pytest.raises(TypeError, match="explainer"):
        M.adversarial_correlation(model, object(), x, y, 0.1)
    with pytest.raises(ValueError, match="C >= 2"):
        M.contrastive_perturbation(BlockModel(single_logit=True).double().eval(), x, y, a)


def test_training_mode_with_batchnorm_is_refused_everywhere():
    x, y = block_data(num=4)
    a = torch.rand_like(x)
    model = nn.Sequential(nn.BatchNorm2d(1), BlockModel()).double().train()
    for name, runner in {**MAP_RUNNERS, **LABEL_RUNNERS}.items():
        if name in ("energy", "pointing"):
            continue
        with pytest.raises(ValueError, match="eval mode"):
            runner(model, x, y, a)
    with pytest.raises(ValueError, match="eval mode"):
        M.kl_fidelity(model, x)


def test_nothing_passed_is_modified():
    model = nn.Sequential(nn.Dropout(0.0), BlockModel()).double().eval()
    x, y = block_data(num=4)
    a = torch.rand_like(x)
    copies = [t.clone() for t in (x, y, a)]
    state = copy.deepcopy(model.state_dict())
    for runner in {**MAP_RUNNERS, **LABEL_RUNNERS}.values():
        runner(model, x, y, a)
    M.kl_fidelity(model, x, (0.1,))
    for original, now in zip(copies, (x, y, a), strict=True):
        assert torch.equal(original, now) and not now.requires_grad and now.grad is None
    assert not model.training and all(
        torch.equal(v, state[k]) for k, v in model.state_dict().items()
    )


def test_registry_metadata():
    names = M.available_metrics()
    assert names == sorted(M.METRICS) and len(names) == len(set(names)) == 28
    for name in names:
        info = M.get_metric_info(name)
        assert info.name == name and callable(info.function)
        assert (
            info.needs_map
            or info.needs_explainer
            or info.needs_spectrum
            or info.name == "kl-fidelity"
        )
    assert M.METRICS["contrastive-perturbation"].higher_is_better is True
    assert M.METRICS["contrastive-perturbation"].accepts_second_map
    assert not M.METRICS["contrastive-perturbation"].per_example
    assert M.METRICS["deletion-auc"].higher_is_better is False
    assert M.METRICS["insertion-auc"].higher_is_better is True
    assert M.METRICS["kl-fidelity"].ideal == 1.0
    assert M.METRICS["energy-in-mask"].needs_mask and not M.METRICS["energy-in-mask"].needs_model
    assert M.METRICS["adversarial-correlation"].needs_labels
    # Captum's metrics are registered behind the library's checks (same values, see
    # tests/test_edges_library_metrics.py).
    assert M.METRICS["infidelity"].function is M.infidelity is not captum.metrics.infidelity
    assert M.METRICS["sensitivity-max"].function is M.sensitivity_max
    with pytest.raises(ValueError, match="expected a metric name"):
        M.get_metric_info("f1")
    with pytest.raises(TypeError):
        M.METRICS["x"] = M.METRICS["deletion-auc"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        M.METRICS["pointing-game"].name = "other"  # type: ignore[misc]


#: The parameters of a metric function that each ``needs_*`` flag stands for.
_NEEDS_PARAMETERS = {
    "needs_labels": {"labels"},
    "needs_mask": {"masks"},
    "needs_model": {"forward_func", "model"},
    "needs_map": {"attributions", "high_attributions"},
    "needs_explainer": {"explainer", "explainer_factory", "explanation_func"},
    "needs_spectrum": {"eigenvalues", "eigenvectors"},
}


def test_needs_flags_are_what_the_function_takes():
    """Each ``needs_*`` flag is true exactly when the function has its parameter, so the
    harness that runs a metric only where it has that data (``run_metric``) reads facts."""
    flags = [f.name for f in dataclasses.fields(M.MetricInfo) if f.name.startswith("needs_")]
    assert sorted(flags) == sorted(_NEEDS_PARAMETERS)
    for name, info in M.METRICS.items():
        parameters = set(inspect.signature(info.function).parameters)
        for flag, names in _NEEDS_PARAMETERS.items():
            assert getattr(info, flag) == bool(parameters & names), (name, flag)


def test_public_names_are_exported():
    for name in M.__all__:
        assert hasattr(M, name), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_give_the_cpu_numbers():
    model, x, y, a = _setup()
    cuda = BlockModel().double().eval().cuda()
    xc, yc, ac = x.cuda(), y.cuda(), a.cuda()
    for name, runner in {**MAP_RUNNERS, **LABEL_RUNNERS}.items():
        cpu_result, cuda_result = runner(model, x, y, a), runner(cuda, xc, yc, ac)
        for field in ("ratio", "auc", "per_example"):
            if hasattr(cpu_result, field):
                torch.testing.assert_close(
                    getattr(cuda_result, field).cpu(), getattr(cpu_result, field), equal_nan=True
                )
        if isinstance(cpu_result, torch.Tensor):
            assert cuda_result.device.type == "cuda", name
            torch.testing.assert_close(cuda_result.cpu(), cpu_result, equal_nan=True)
    # A map left on the CPU for inputs on the GPU is fine.
    M.contrastive_perturbation(cuda, xc, yc, a, fractions=(0.1,))
    kl_cpu = M.kl_fidelity(model, x, (0.1,))
    torch.testing.assert_close(M.kl_fidelity(cuda, xc, (0.1,)).measured, kl_cpu.measured)


class _Shifted(BlockModel):
    """BlockModel whose logit gets a per-example shift passed as an extra forward arg."""

    def forward(self, x, shift, factor):
        logits = BlockModel.forward(self, x)
        return logits + torch.stack([torch.zeros_like(shift), shift * factor], dim=1)


def test_additional_forward_args_are_split_with_the_batch():
    """Chunked batch with extra args == one call per example with its own slice."""
    x, y = block_data(num=5)
    shift = torch.linspace(-3.0, 3.0, 5, dtype=torch.float64)
    a = torch.rand_like(x)
    eta = M.gaussian_noise(x, 0.0, 1.0, torch.Generator().manual_seed(0))
    model = _Shifted().double().eval()
    chunked = {"additional_forward_args": (shift, 2.0), "max_examples_per_batch": 2}
    fractions = (0.1, 0.5)
    batch = M.contrastive_perturbation_predictions(
        model, x, y, a, fractions=fractions, noise=eta, **chunked
    )
    deletion = M.deletion_auc(model, x, a, steps=4, **chunked).scores
    adversarial = M.fgsm(model, x, y, 0.1, **chunked)
    kl = M.kl_fidelity(model, x, (0.1,), **chunked).measured
    assert len(set(batch.clean.tolist())) == 2  # the shifts change predictions
    for n in range(5):
        one = {"additional_forward_args": (shift[n : n + 1], 2.0)}
        s = slice(n, n + 1)
        single = M.contrastive_perturbation_predictions(
            model, x[s], y[s], a[s], fractions=fractions, noise=eta[s], **one
        )
        assert torch.equal(single.high[:, 0], batch.high[:, n])
        assert torch.equal(single.low[:, 0], batch.low[:, n])
        torch.testing.assert_close(
            M.deletion_auc(model, x[s], a[s], steps=4, **one).scores[0], deletion[n]
        )
        torch.testing.assert_close(M.fgsm(model, x[s], y[s], 0.1, **one)[0], adversarial[n])
        torch.testing.assert_close(M.kl_fidelity(model, x[s], (0.1,), **one).measured[0], kl[n])


def test_deletion_respects_the_batch_bound():
    model, x, _, a = _setup()
    model.batch_sizes = []
    M.deletion_auc(model, x, a, steps=3, max_examples_per_batch=3)
    assert max(model.batch_sizes) == 3 and model.calls == 2 * 4  # clean + 3 steps, 2 chunks


# One check per convention (issue 16): output heads, choices, chunk bounds -----------------

#: Name -> call(model, x, y, attributions, **options) for every function taking ``output=``.
OUTPUT_RUNNERS = {
    "deletion": lambda m, x, y, a, **o: M.deletion_auc(m, x, a, y, steps=4, **o).auc,
    "insertion": lambda m, x, y, a, **o: M.insertion_auc(m, x, a, y, steps=4, **o).auc,
    "fgsm": lambda m, x, y, a, **o: M.fgsm(m, x, y, 0.1, **o),
    "contrastive": lambda m, x, y, a, **o: (
        M.contrastive_perturbation(m, x, y, a, fractions=(0.1,), **o).ratio
    ),
    "kl-fidelity": lambda m, x, y, a, **o: M.kl_fidelity(m, x, (0.1,), **o).measured,
    "local-kl": lambda m, x, y, a, **o: M.local_kl(m, x, a, (0.1,), **o),
    "adversarial": lambda m, x, y, a, **o: torch.tensor(
        M.adversarial_correlation(m, lambda i, target: i, x, y, 0.1, **o).mean
    ),
}


class _Softmaxed(nn.Module):
    """The block model's softmax (``output="probs"``) or log-softmax (``"log_probs"``)."""

    def __init__(self, log: bool) -> None:
        super().__init__()
        self.logits, self.log = BlockModel(), log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        return z.log_softmax(dim=1) if self.log else z.softmax(dim=1)


@pytest.mark.parametrize("name", sorted(OUTPUT_RUNNERS))
@pytest.mark.parametrize(
    ("output", "message"),
    [("probs", "expected probabilities in"), ("log_probs", "sum to 1")],
)
def test_logits_read_as_probabilities_are_refused_everywhere(name, output, message):
    """Before: deletion, insertion and FGSM returned numbers for logits read as
    probabilities (FGSM left every input unchanged); the iFIM's check refuses them."""
    model, x, y, a = _setup()
    copies = [t.clone() for t in (x, y, a)]
    with pytest.raises(ValueError, match=message):
        OUTPUT_RUNNERS[name](model, x, y, a, output=output)
    for original, now in zip(copies, (x, y, a), strict=True):
        assert torch.equal(original, now) and not now.requires_grad


@pytest.mark.parametrize("name", sorted(OUTPUT_RUNNERS))
def test_an_unknown_head_is_refused_before_any_forward_pass(name):
    model, x, y, a = _setup()
    with pytest.raises(ValueError, match="output to be one of"):
        OUTPUT_RUNNERS[name](model, x, y, a, output="softmax")
    assert model.calls == 0


@pytest.mark.parametrize("name", sorted(OUTPUT_RUNNERS))
@pytest.mark.parametrize("output", ["probs", "log_probs"])
def test_probability_heads_give_the_numbers_of_the_logits(name, output):
    """The check refuses only misfits: a softmax model read as ``"probs"`` (log-softmax as
    ``"log_probs"``) gives what its logits give."""
    model, x, y, a = _setup()
    softmaxed = _Softmaxed(log=output == "log_probs").double().eval()
    expected = OUTPUT_RUNNERS[name](model, x, y, a)
    got = OUTPUT_RUNNERS[name](softmaxed, x, y, a, output=output)
    torch.testing.assert_close(got, expected, equal_nan=True, rtol=1e-6, atol=1e-9)


def test_an_unknown_magnitude_is_refused():
    """Before: ``magnitude="sq"`` was silently read as ``"squared"``."""
    _, x, _, a = _setup()
    mask = torch.ones(x.shape[0], 8, 8)
    for call in (
        lambda: M.energy_in_mask(a, mask, magnitude="sq"),
        lambda: M.spatial_saliency(a, magnitude="sq"),
    ):
        with pytest.raises(
            ValueError, match=r"expected magnitude to be one of \('abs', 'squared'\)"
        ):
            call()
    squared = M.energy_in_mask(a, mask, magnitude="squared")
    torch.testing.assert_close(squared, torch.ones(x.shape[0], dtype=torch.float64))


def _linear_model() -> nn.Module:
    """The same 64 -> 2 linear classifier at every call (fixed weights)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).double().eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.linspace(-1, 1, 128, dtype=torch.float64).view(2, 64))
        model[1].bias.zero_()
    return model


#: Name -> call(model, x, y, attributions, bound) for every ``max_examples_per_batch``.
BOUND_RUNNERS = {
    "compute-maps": lambda m, x, y, a, b: M.compute_maps(
        lambda i, target: i * 2, x, y, max_examples_per_batch=b
    ),
    "deletion": lambda m, x, y, a, b: (
        M.deletion_auc(m, x, a, y, steps=2, max_examples_per_batch=b).auc
    ),
    "insertion": lambda m, x, y, a, b: (
        M.insertion_auc(m, x, a, y, steps=2, max_examples_per_batch=b).auc
    ),
    "fgsm": lambda m, x, y, a, b: M.fgsm(m, x, y, 0.1, max_examples_per_batch=b),
    "contrastive": lambda m, x, y, a, b: (
        M.contrastive_perturbation(m, x, y, a, fractions=(0.1,), max_examples_per_batch=b).ratio
    ),
    "kl-fidelity": lambda m, x, y, a, b: (
        M.kl_fidelity(m, x, (0.1,), max_examples_per_batch=b).measured
    ),
    "local-kl": lambda m, x, y, a, b: M.local_kl(m, x, a, (0.1,), max_examples_per_batch=b),
    "adversarial": lambda m, x, y, a, b: (
        M.adversarial_correlation(
            m, lambda i, target: i, x, y, 0.1, max_examples_per_batch=b
        ).per_example
    ),
    "randomization": lambda m, x, y, a, b: (
        M.model_parameter_randomization(
            _linear_model(),
            lambda model: lambda i, target: model(i),
            x,
            y,
            max_examples_per_batch=b,
        ).pearson
    ),
}


@pytest.mark.parametrize("name", sorted(BOUND_RUNNERS))
@pytest.mark.parametrize("bound", [0, -1, 2.0, True, "2"])
def test_every_chunk_bound_is_none_or_a_positive_int(name, bound):
    """Before: ``compute_maps`` failed inside ``torch.cat`` for -1 and read 0 as the whole
    batch. One check everywhere, before anything runs."""
    model, x, y, a = _setup()
    with pytest.raises(ValueError, match="expected max_examples_per_batch to be a positive int"):
        BOUND_RUNNERS[name](model, x, y, a, bound)
    assert model.calls == 0


@pytest.mark.parametrize("name", sorted(BOUND_RUNNERS))
def test_chunked_equals_whole_batch(name):
    model, x, y, a = _setup()
    whole = BOUND_RUNNERS[name](model, x, y, a, None)
    torch.testing.assert_close(BOUND_RUNNERS[name](model, x, y, a, 1), whole, equal_nan=True)
    torch.testing.assert_close(BOUND_RUNNERS[name](model, x, y, a, 3), whole, equal_nan=True)
