"""The metrics at their edges (issue 21, fault injection): targets and labels on the meta
device, inputs of another dtype or rank than the model takes, the small helpers' type and
shape checks, and Captum's ``infidelity`` and ``sensitivity_max`` behind the library's
checks with Captum's results."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import captum.metrics
import pytest
import torch
from torch import Tensor, nn

from captum_ifim import build_method
from captum_ifim import metrics as m
from tests._baseline_models import assert_same_state, images, model_state, small_cnn

SIDE = 16
META = "hold data, got a tensor on the meta device"


@contextmanager
def _refused(
    error: type[Exception], message: str, model: nn.Module | None = None, forward: bool = False
) -> Iterator[None]:
    """The block raises ``error`` matching ``message``, leaves ``model`` as found and,
    unless ``forward``, runs no forward pass of any module first."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    before = model_state(model) if model is not None else None
    calls: list[str] = []
    handle = register_module_forward_pre_hook(lambda module, _: calls.append(type(module).__name__))
    try:
        with pytest.raises(error, match=message):
            yield
    finally:
        handle.remove()
    if not forward:
        assert calls == [], f"a forward pass ran before the error: {calls[:3]}"
    if model is not None and before is not None:
        assert_same_state(before, model_state(model, copy_tensors=False))


def _setup() -> tuple[nn.Module, Tensor, Tensor, Tensor]:
    model = small_cnn(1)
    x = images(4, 1, side=SIDE, seed=1)
    labels = torch.tensor([0, 1, 2, 0])
    maps = images(4, 1, side=SIDE, seed=2).abs()
    return model, x, labels, maps


def _nan(t: Tensor) -> Tensor:
    out = t.clone()
    out.view(-1)[3] = float("nan")
    return out


# 1. Targets and labels on the meta device -----------------------------------------------------


def _meta_calls(
    model: nn.Module, x: Tensor, labels: Tensor, maps: Tensor
) -> dict[str, Callable[[Tensor], Any]]:
    saliency = build_method("saliency", model)
    return {
        "deletion_auc": lambda t: m.deletion_auc(model, x, maps, t, steps=2),
        "insertion_auc": lambda t: m.insertion_auc(model, x, maps, t, steps=2),
        "contrastive_perturbation": lambda t: m.contrastive_perturbation(
            model, x, t, maps, fractions=(0.1,)
        ),
        "fgsm": lambda t: m.fgsm(model, x, t, 0.01),
        "adversarial_correlation": lambda t: m.adversarial_correlation(model, saliency, x, t, 0.01),
        "compute_maps": lambda t: m.compute_maps(saliency, x, t),
        "saliency": lambda t: saliency.attribute(x, target=t),
        "model_parameter_randomization": lambda t: m.model_parameter_randomization(
            model, lambda net: build_method("saliency", net), x, t, layers=["8"]
        ),
        "f1 labels": lambda t: m.f1(t, labels, 3),
        "f1 predictions": lambda t: m.f1(labels, t, 3),
        "sensitivity_max": lambda t: m.sensitivity_max(
            saliency.attribute, x, n_perturb_samples=2, target=t
        ),
        "infidelity": lambda t: m.infidelity(
            model, lambda y: (y * 0, y), x, maps, target=t, n_perturb_samples=2
        ),
    }


META_CALLS = [
    "deletion_auc",
    "insertion_auc",
    "contrastive_perturbation",
    "fgsm",
    "adversarial_correlation",
    "compute_maps",
    "saliency",
    "model_parameter_randomization",
    "f1 labels",
    "f1 predictions",
    "sensitivity_max",
    "infidelity",
]


@pytest.mark.parametrize("name", META_CALLS)
def test_targets_and_labels_on_the_meta_device_are_refused(name: str) -> None:
    model, x, labels, maps = _setup()
    calls = _meta_calls(model, x, labels, maps)
    assert sorted(calls) == sorted(META_CALLS)
    call = calls[name]
    # fgsm, contrastive and f1 read their label range from the outputs: one forward first
    with _refused(
        ValueError, f"expected (target|labels|predictions) to {META}", model, forward=True
    ):
        call(labels.to("meta"))


# 2. Another dtype or rank than the model takes --------------------------------------------------

MODEL_METRICS = [
    "fgsm",
    "adversarial_correlation",
    "local_kl",
    "kl_fidelity",
    "ifim_subspace_overlap",
]


def _model_call(name: str, model: nn.Module, x: Tensor) -> Any:
    labels = torch.tensor([0, 1, 2, 0])
    if name == "fgsm":
        return m.fgsm(model, x, labels, 0.01)
    if name == "adversarial_correlation":
        return m.adversarial_correlation(model, lambda y, target: y, x, labels, 0.01)
    if name == "local_kl":
        return m.local_kl(model, x, torch.ones_like(x), (0.01,))
    if name == "kl_fidelity":
        return m.kl_fidelity(model, x, (0.01,))
    return m.ifim_subspace_overlap(model, model, x)


@pytest.mark.parametrize("name", MODEL_METRICS)
def test_inputs_of_another_dtype_than_the_model_are_refused_before_any_forward(name: str) -> None:
    model, x, _, _ = _setup()
    message = "expected inputs of the model's dtype torch.float{}, got torch.float{}"
    with _refused(TypeError, message.format(32, 64), model):
        _model_call(name, model, x.double())
    double = small_cnn(1).double()
    with _refused(TypeError, message.format(64, 32), double):
        _model_call(name, double, x)


@pytest.mark.parametrize("name", MODEL_METRICS)
def test_inputs_of_one_more_dimension_get_an_error_naming_the_layer(name: str) -> None:
    model, x, _, _ = _setup()
    message = (
        r"expected inputs the model takes, got inputs of shape \(4, 1, 1, 16, 16\): its first "
        r"layer '0' \(Conv2d\) takes \(N, 1, H, W\)"
    )
    with _refused(ValueError, message, model, forward=True):
        _model_call(name, model, x.unsqueeze(1))


def test_ifim_subspace_overlap_checks_the_second_model_before_any_forward() -> None:
    model, x, _, _ = _setup()
    with _refused(TypeError, "expected inputs of the model's dtype torch.float64, got", model):
        m.ifim_subspace_overlap(model, small_cnn(1).double(), x)


LOCAL_KL_DIRECTIONS: dict[str, tuple[Callable[[Tensor, Tensor], tuple], type[Exception], str]] = {
    "a list": (
        lambda x, d: (x, d.tolist()),
        TypeError,
        "expected directions to be a torch.Tensor, got list",
    ),
    "empty batch": (
        lambda x, d: (x, d[:0]),
        ValueError,
        r"expected directions of shape \(2, 1, 16, 16\) \(the inputs'\), got \(0,",
    ),
    "batch of one": (
        lambda x, d: (x, d[:1]),
        ValueError,
        r"shape \(2, 1, 16, 16\) \(the inputs'\), got \(1, 1",
    ),
    "inputs batch of one": (
        lambda x, d: (x[:1], d),
        ValueError,
        r"shape \(1, 1, 16, 16\) \(the inputs'\), got \(2, 1",
    ),
    "one more dimension": (
        lambda x, d: (x, d.unsqueeze(1)),
        ValueError,
        r"got \(2, 1, 1, 16, 16\)",
    ),
    "another shape": (lambda x, d: (x, torch.zeros(3, 1, 4, 4)), ValueError, r"got \(3, 1, 4, 4\)"),
    "float64": (
        lambda x, d: (x, d.double()),
        TypeError,
        "expected directions of the inputs' dtype torch.float32, got torch.float64",
    ),
    "meta": (lambda x, d: (x, d.to("meta")), ValueError, f"expected directions to {META}"),
    "NaN": (lambda x, d: (x, _nan(d)), ValueError, "expected finite directions, got NaN or inf"),
}


@pytest.mark.parametrize("case", list(LOCAL_KL_DIRECTIONS))
def test_local_kl_refuses_directions_that_do_not_fit_the_inputs_before_any_forward(
    case: str,
) -> None:
    model, x, _, _ = _setup()
    make, error, message = LOCAL_KL_DIRECTIONS[case]
    inputs, directions = make(x[:2], images(2, 1, side=SIDE, seed=4))
    with _refused(error, message, model):
        m.local_kl(model, inputs, directions, (0.01,))


def test_kl_fidelity_refuses_directions_on_the_meta_device() -> None:
    model, x, _, _ = _setup()
    with _refused(ValueError, f"expected directions to {META}", model):
        m.kl_fidelity(model, x, (0.01,), directions=x.to("meta"))


# 3. The small helpers --------------------------------------------------------------------------

MAP_HELPERS: dict[str, Callable[[Any], Any]] = {
    "pixel_mask": lambda a: m.pixel_mask(a, 0.1),
    "spatial_saliency": lambda a: m.spatial_saliency(a),
    "gaussian_blur": lambda a: m.gaussian_blur(a),
}
BAD_MAPS: dict[str, tuple[Callable[[Tensor], Any], type[Exception], str]] = {
    "a list": (lambda t: t.tolist(), TypeError, "expected {} to be a torch.Tensor, got list"),
    "empty batch": (
        lambda t: t[:0],
        ValueError,
        r"expected a non-empty batch, got {} of shape \(0,",
    ),
    "meta": (lambda t: t.to("meta"), ValueError, "expected {} to " + META),
    "NaN": (lambda t: _nan(t), ValueError, "expected finite {}, got NaN or inf"),
    "bool": (
        lambda t: t > 0,
        TypeError,
        "expected {} to be (floating point|real numbers).*, got torch.bool",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_MAPS))
@pytest.mark.parametrize("helper", list(MAP_HELPERS))
def test_map_helpers_check_their_tensor(helper: str, bad: str) -> None:
    make, error, message = BAD_MAPS[bad]
    name = "inputs" if helper == "gaussian_blur" else "attributions"
    with _refused(error, message.format(name)):
        MAP_HELPERS[helper](make(images(4, 1, side=SIDE, seed=2)))


def test_map_helpers_give_what_they_gave_on_good_input() -> None:
    m_ = torch.tensor([[[[0.1, 5.0], [-9.0, 0.2]]]])
    assert m.pixel_mask(m_, 0.5, "top").int().tolist() == [[[[0, 1], [1, 0]]]]
    assert m.pixel_mask(m_, 0.5, "bottom").int().tolist() == [[[[1, 0], [0, 1]]]]
    assert m.spatial_saliency(torch.tensor([[[[1.0, -2.0]], [[3.0, 0.0]]]])).tolist() == [
        [[4.0, 2.0]]
    ]
    assert m.num_selected_pixels(0.03, 100) == 3
    volume = torch.zeros(1, 1, 11, 11, 11)
    volume[0, 0, 5, 5, 5] = 1.0
    assert round(float(m.gaussian_blur(volume, 3, 1.0, spatial_dims=3).sum()), 6) == 1.0


def test_pixel_selection_options_are_checked() -> None:
    maps = images(4, 1, side=SIDE, seed=2)
    with _refused(ValueError, r"expected which to be one of \('top', 'bottom'\), got 'bogus'"):
        m.pixel_mask(maps, 0.1, which="bogus")  # type: ignore[arg-type]
    with _refused(ValueError, "expected num_locations to be a positive int, got 'a'"):
        m.num_selected_pixels(0.1, "a")  # type: ignore[arg-type]
    with _refused(ValueError, "expected num_locations to be a positive int, got 0"):
        m.num_selected_pixels(0.1, 0)


@pytest.mark.parametrize("key", ["a", "b"])
@pytest.mark.parametrize("name", ["pearson_per_sample", "spearman_per_sample"])
def test_correlations_check_both_maps(name: str, key: str) -> None:
    correlate = getattr(m, name)
    maps = {"a": images(4, 1, side=SIDE, seed=2), "b": images(4, 1, side=SIDE, seed=3)}

    def call(bad: Any) -> Any:
        return correlate(**{**maps, key: bad})

    good = maps[key]
    with _refused(TypeError, f"expected {key} to be a torch.Tensor, got list"):
        call(good.tolist())
    with _refused(ValueError, f"expected {key} to {META}"):
        call(good.to("meta"))
    with _refused(ValueError, f"expected finite {key}, got NaN or inf"):
        call(_nan(good))
    with _refused(ValueError, r"expected a and b of the same shape, got \(4, 1, (1, )?16, 16\)"):
        call(good.unsqueeze(1))
    with _refused(ValueError, rf"expected a non-empty batch, got {key} of shape \(0,"):
        correlate(maps["a"][:0], maps["b"][:0]) if key == "a" else call(good[:0])


@pytest.mark.parametrize("name", ["pearson_per_sample", "spearman_per_sample"])
def test_correlations_give_what_they_gave_on_good_input(name: str) -> None:
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    y = torch.tensor([[2.0, 4.0, 7.0], [0.0, 1.0, 2.0]])
    got = getattr(m, name)(x, y)
    assert got[0].item() == pytest.approx(0.9933992677987828 if name[0] == "p" else 1.0)
    assert got[1].isnan()


def test_gaussian_noise_checks_like() -> None:
    x = images(4, 1, side=SIDE, seed=1)
    with _refused(TypeError, "expected like to be a torch.Tensor, got list"):
        m.gaussian_noise(x.tolist())  # type: ignore[arg-type]
    with _refused(ValueError, f"expected like to {META}"):
        m.gaussian_noise(x.to("meta"))
    noise = m.gaussian_noise(x, 0.5, 2.0, torch.Generator().manual_seed(3))
    expected = 0.5 + 2.0 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(noise, expected, rtol=0, atol=0)


@pytest.mark.parametrize("metric", ["energy_in_mask", "pointing_game"])
def test_localization_refuses_masks_on_the_meta_device(metric: str) -> None:
    masks = torch.zeros(4, SIDE, SIDE, dtype=torch.bool)
    masks[:, 4:9, 4:9] = True
    with _refused(ValueError, f"expected masks to {META}"):
        getattr(m, metric)(images(4, 1, side=SIDE, seed=2), masks.to("meta"))


@pytest.mark.parametrize("metric", ["subspace_overlap", "principal_angles"])
def test_subspace_comparisons_refuse_bases_on_the_meta_device(metric: str) -> None:
    def basis(seed: int) -> Tensor:
        return torch.linalg.qr(
            torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(seed))
        ).Q

    compare = getattr(m, metric)
    with _refused(ValueError, f"expected U1 to {META}"):
        compare(basis(3).to("meta"), basis(4))
    with _refused(ValueError, f"expected U2 to {META}"):
        compare(basis(3), basis(4).to("meta"))
    with _refused(ValueError, f"expected k1 to {META}"):
        compare(basis(3), basis(4), torch.tensor([1, 2]).to("meta"))


def test_options_of_the_wrong_type_are_refused() -> None:
    model, x, labels, _ = _setup()
    with _refused(
        TypeError, r"expected clamp = \(low, high\) of two numbers, got \('a', 'b'\)", model
    ):
        m.fgsm(model, x, labels, 0.01, clamp=("a", "b"))  # type: ignore[arg-type]
    with _refused(TypeError, r"expected clamp = \(low, high\) of two numbers, got 5", model):
        m.fgsm(model, x, labels, 0.01, clamp=5)  # type: ignore[arg-type]
    with _refused(TypeError, "expected explainer_factory to be callable, got NoneType", model):
        m.model_parameter_randomization(model, None, x, labels)  # type: ignore[arg-type]
    expected = "expected predictions to be a ContrastivePredictions .*, got (str|NoneType)"
    for bad in ("bogus", None):
        with _refused(TypeError, expected):
            m.f1_ratio(bad)  # type: ignore[arg-type]


def test_compute_maps_refuses_targets_of_another_batch_size() -> None:
    model, x, labels, _ = _setup()
    saliency = build_method("saliency", model)
    factory = lambda net: build_method("saliency", net)  # noqa: E731
    message = r"expected one target per sample \({}\), got {} targets"
    with _refused(ValueError, message.format(1, 4), model):
        m.compute_maps(saliency, x[:1], labels)
    with _refused(ValueError, message.format(4, 1), model):
        m.compute_maps(saliency, x, labels[:1])
    with _refused(ValueError, message.format(4, 2), model):
        m.compute_maps(saliency, x, [0, 1])
    with _refused(ValueError, message.format(1, 4), model):
        m.model_parameter_randomization(model, factory, x[:1], labels, layers=["8"])
    with _refused(ValueError, message.format(4, 1), model):
        m.model_parameter_randomization(model, factory, x, labels[:1], layers=["8"])
    # One class for every input is an int or a 0-d tensor; chunks give the same maps
    # (to float32 rounding: the convolutions run on batches of other sizes).
    whole = m.compute_maps(saliency, x, 1)
    chunked = m.compute_maps(saliency, x, torch.tensor(1), max_examples_per_batch=3)
    torch.testing.assert_close(chunked, whole)
    chunked = m.compute_maps(saliency, x, labels, max_examples_per_batch=3)
    torch.testing.assert_close(chunked, m.compute_maps(saliency, x, labels))


# 4. Captum's infidelity and sensitivity_max, checked ---------------------------------------------


def _perturb(seed: int) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(seed)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn(inputs.shape, generator=generator) * 0.1
        return noise, inputs - noise

    return perturb


@pytest.mark.parametrize(
    ("target", "options"),
    [
        (1, {}),
        ("labels", {}),
        ("list", {"normalize": True}),
        ("labels", {"max_examples_per_batch": 8, "n_perturb_samples": 4}),
    ],
)
def test_checked_infidelity_gives_captums_values(target: Any, options: dict[str, Any]) -> None:
    """The same call, with the same draws, gives Captum's values bit for bit."""
    model, x, labels, maps = _setup()
    target = {"labels": labels, "list": labels.tolist()}.get(target, target)
    options = {"n_perturb_samples": 3, **options, "target": target}
    ours = m.infidelity(model, _perturb(3), x, maps, **options)
    theirs = captum.metrics.infidelity(model, _perturb(3), x, maps, **options)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert ours.shape == (4,) and torch.isfinite(ours).all() and (ours > 0).all()


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(4, 3)

    def forward(self, a: Tensor, b: Tensor, scale: float = 1.0) -> Tensor:
        return torch.tanh(self.a(a) + self.b(b)) * scale


def test_checked_infidelity_takes_tuples_and_additional_forward_args_as_captum() -> None:
    model = _TwoInputs().eval()
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 6, generator=generator), torch.randn(5, 4, generator=generator)
    attributions = (a * 0.3, b * -0.2)

    def perturb(seed: int) -> Callable[..., Any]:
        draws = torch.Generator().manual_seed(seed)

        def pair(
            inputs: tuple[Tensor, Tensor],
        ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
            a, b = inputs  # Captum passes a tuple of inputs as one argument
            na = torch.randn(a.shape, generator=draws) * 0.1
            nb = torch.randn(b.shape, generator=draws) * 0.1
            return (na, nb), (a - na, b - nb)

        return pair

    args: dict[str, Any] = {
        "additional_forward_args": (2.0,),
        "target": [0, 1, 2, 1, 0],
        "n_perturb_samples": 3,
    }
    ours = m.infidelity(model, perturb(1), (a, b), attributions, **args)
    theirs = captum.metrics.infidelity(model, perturb(1), (a, b), attributions, **args)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    with _refused(ValueError, "expected attributions of the inputs' structure: 2 tensors, got 1"):
        m.infidelity(model, perturb(1), (a, b), attributions[:1], **args)


@pytest.mark.parametrize("explainer", ["registered", "captum"])
def test_checked_sensitivity_max_gives_captums_values(explainer: str) -> None:
    from captum.attr import Saliency

    model, x, labels, _ = _setup()
    method = build_method("saliency", model) if explainer == "registered" else Saliency(model)
    values = []
    for function in (m.sensitivity_max, captum.metrics.sensitivity_max):
        torch.manual_seed(7)
        values.append(
            function(
                method.attribute,
                x,
                n_perturb_samples=3,
                perturb_radius=0.05,
                target=labels,
                max_examples_per_batch=8,
            )
        )
    torch.testing.assert_close(values[0], values[1], rtol=0, atol=0)
    assert values[0].shape == (4,) and (values[0] > 0).all()


def _bad_infidelity() -> dict[str, tuple[dict[str, Any], type[Exception], str]]:
    _, x, labels, maps = _setup()
    shape = r"expected attributions of shape \(4, 1, 16, 16\) \(the inputs'\), got "
    count = r"expected one target per sample \(4\), got {} targets"
    dtype = "expected input 0 of the model's dtype torch.float{}, got torch.float{}"
    return {
        "inputs a list": (
            {"inputs": x.tolist()},
            TypeError,
            "expected inputs to be a torch.Tensor or a tuple of them, got list",
        ),
        "attributions a list": (
            {"attributions": maps.tolist()},
            TypeError,
            "expected attributions to be a torch.Tensor or a tuple of them, got list",
        ),
        "inputs meta": ({"inputs": x.to("meta")}, ValueError, f"expected input 0 to {META}"),
        "attributions meta": (
            {"attributions": maps.to("meta")},
            ValueError,
            f"expected attributions to {META}",
        ),
        "inputs empty": (
            {"inputs": x[:0]},
            ValueError,
            r"expected a non-empty batch, got input 0 of shape \(0,",
        ),
        "attributions empty": ({"attributions": maps[:0]}, ValueError, shape + r"\(0, 1, 16, 16\)"),
        "inputs one more dimension": (
            {"inputs": x.unsqueeze(1)},
            ValueError,
            r"shape \(4, 1, 1, 16, 16\) \(the inputs'\), got \(4, 1, 16, 16\)",
        ),
        "attributions one more dimension": (
            {"attributions": maps.unsqueeze(1)},
            ValueError,
            shape + r"\(4, 1, 1, 16, 16\)",
        ),
        "inputs batch of one": (
            {"inputs": x[:1]},
            ValueError,
            r"shape \(1, 1, 16, 16\) \(the inputs'\), got \(4, 1, 16, 16\)",
        ),
        "attributions batch of one": (
            {"attributions": maps[:1]},
            ValueError,
            shape + r"\(1, 1, 16, 16\)",
        ),
        "inputs NaN": ({"inputs": _nan(x)}, ValueError, "expected finite inputs, got NaN or inf"),
        "attributions NaN": (
            {"attributions": _nan(maps)},
            ValueError,
            "expected finite attributions, got NaN or inf",
        ),
        "target out of range": (
            {"target": labels + 10},
            ValueError,
            r"expected targets in \[0, 3\)",
        ),
        "target negative": ({"target": labels - 10}, ValueError, r"expected targets in \[0, 3\)"),
        "target float": (
            {"target": labels.float()},
            TypeError,
            "expected an integer target tensor",
        ),
        "target empty": ({"target": labels[:0]}, ValueError, count.format(0)),
        "target one more dimension": (
            {"target": labels.unsqueeze(1)},
            ValueError,
            r"expected a target tensor of shape \(\) or \(4,\), got \(4, 1\)",
        ),
        "target batch of one": ({"target": labels[:1]}, ValueError, count.format(1)),
        "target meta": ({"target": labels.to("meta")}, ValueError, f"expected target to {META}"),
        "target None for 3 outputs": (
            {"target": None},
            ValueError,
            r"expected a target \(one class per input\) for a model with 3 outputs, got None",
        ),
        "n_perturb_samples=0": (
            {"n_perturb_samples": 0},
            ValueError,
            "expected n_perturb_samples to be a positive int, got 0",
        ),
        "inputs float64": (
            {"inputs": x.double(), "attributions": maps.double()},
            TypeError,
            dtype.format(32, 64),
        ),
        "a float64 model": (
            {"forward_func": small_cnn(1).double()},
            TypeError,
            dtype.format(64, 32),
        ),
        "perturb_func None": (
            {"perturb_func": None},
            TypeError,
            "expected perturb_func to be callable, got NoneType",
        ),
        "normalize 'yes'": (
            {"normalize": "yes"},
            TypeError,
            "expected normalize to be a bool, got 'yes'",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_infidelity()))
def test_checked_infidelity_refuses_bad_input_before_any_forward(case: str) -> None:
    changes, error, message = _bad_infidelity()[case]
    model, x, labels, maps = _setup()
    kwargs: dict[str, Any] = {
        "forward_func": model,
        "perturb_func": _perturb(0),
        "inputs": x,
        "attributions": maps,
        "target": labels,
        "n_perturb_samples": 2,
        **changes,
    }
    # the classes a target may take are read from one forward pass on the first input
    needs_classes = case in ("target out of range", "target negative", "target None for 3 outputs")
    with _refused(error, message, kwargs["forward_func"], forward=needs_classes):
        m.infidelity(**kwargs)


def test_checked_infidelity_names_the_layer_of_inputs_the_model_cannot_take() -> None:
    model, x, labels, maps = _setup()
    with _refused(
        ValueError, r"its first layer '0' \(Conv2d\) takes \(N, 1, H, W\)", model, forward=True
    ):
        m.infidelity(model, _perturb(0), x.unsqueeze(1), maps.unsqueeze(1), target=labels)


BAD_SENSITIVITY: dict[
    str, tuple[Callable[[Tensor, Tensor], dict[str, Any]], type[Exception], str]
] = {
    "inputs a list": (
        lambda x, y: {"inputs": x.tolist()},
        TypeError,
        "expected inputs to be a torch.Tensor or a tuple of them, got list",
    ),
    "target meta": (
        lambda x, y: {"target": y.to("meta")},
        ValueError,
        f"expected target to {META}",
    ),
    "target batch of one": (
        lambda x, y: {"target": y[:1]},
        ValueError,
        r"expected one target per sample \(4\), got 1 targets",
    ),
    "n_perturb_samples=0": (
        lambda x, y: {"n_perturb_samples": 0},
        ValueError,
        "expected n_perturb_samples to be a positive int, got 0",
    ),
    "explanation_func None": (
        lambda x, y: {"explanation_func": None},
        TypeError,
        "expected explanation_func to be callable, got NoneType",
    ),
    "perturb_radius -1": (
        lambda x, y: {"perturb_radius": -1.0},
        ValueError,
        "expected a finite perturb_radius >= 0, got -1.0",
    ),
    "max_examples_per_batch 0": (
        lambda x, y: {"max_examples_per_batch": 0},
        ValueError,
        "expected max_examples_per_batch to be a positive int or None, got 0",
    ),
    "a float64 model under Captum's Saliency": (
        lambda x, y: {"inputs": x.double()},
        TypeError,
        "expected input 0 of the model's dtype torch.float32, got torch.float64",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SENSITIVITY))
def test_checked_sensitivity_max_refuses_bad_input_before_any_forward(case: str) -> None:
    from captum.attr import Saliency

    model, x, labels, _ = _setup()
    make, error, message = BAD_SENSITIVITY[case]
    kwargs: dict[str, Any] = {
        "explanation_func": Saliency(model).attribute,
        "inputs": x,
        "target": labels,
        "n_perturb_samples": 2,
        **make(x, labels),
    }
    with _refused(error, message, model):
        m.sensitivity_max(**kwargs)


def test_the_registry_and_the_harness_use_the_checked_captum_metrics() -> None:
    from comparisons.metrics import _captum_metrics

    assert m.infidelity is not captum.metrics.infidelity
    assert m.METRICS["infidelity"].function is m.infidelity
    assert m.METRICS["sensitivity-max"].function is m.sensitivity_max
    assert _captum_metrics.infidelity is m.infidelity
    assert _captum_metrics.sensitivity_max is m.sensitivity_max
    for ours, theirs in (
        (m.infidelity, captum.metrics.infidelity),
        (m.sensitivity_max, captum.metrics.sensitivity_max),
    ):
        expected = inspect.signature(theirs).parameters
        got = inspect.signature(ours).parameters
        assert list(got) == list(expected)
        for name, parameter in expected.items():
            assert (got[name].default, got[name].kind) == (parameter.default, parameter.kind)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_checked_captum_metrics_refuse_a_target_or_map_on_another_device() -> None:
    model, x, labels, maps = _setup()
    model, x, maps = model.cuda(), x.cuda(), maps.cuda()
    with _refused(ValueError, "expected target on the inputs' device cuda:0, got cpu", model):
        m.infidelity(model, _perturb(0), x, maps, target=labels, n_perturb_samples=2)
    with _refused(ValueError, "expected attributions on the inputs' device cuda:0, got cpu"):
        m.infidelity(model, _perturb(0), x, maps.cpu(), target=labels.cuda())
    # sensitivity_max leaves the target's device to the explainer, which moves it here
    explain = build_method("saliency", model).attribute
    torch.manual_seed(0)
    on_cpu = m.sensitivity_max(explain, x, n_perturb_samples=2, target=labels)
    torch.manual_seed(0)
    on_gpu = m.sensitivity_max(explain, x, n_perturb_samples=2, target=labels.cuda())
    torch.testing.assert_close(on_cpu, on_gpu)
