"""Your own methods (issue 22 item 3): a class path in a config and the same object given to
``compare`` give the same rows; every bad entry is refused when the config loads; a resume
with another definition is refused; factories, plain functions and Captum's layer classes
work, with their facts read or declared; the registry is never changed."""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import replace

import pandas as pd
import pytest
import torch
from captum.attr import InputXGradient, LayerAttribution, LayerGradCam, Occlusion
from safetensors.torch import save_file

import comparisons.run as run_package
import comparisons.run._runner as runner_module
from captum_ifim import available_methods, build_method, get_method_spec
from captum_ifim.methods import custom_method_spec
from comparisons import compare
from comparisons.config import parse_config, read_config_for_report, read_stored_config
from comparisons.models import build_factory_model
from comparisons.reporting._figure_output import method_colors
from comparisons.run import run
from comparisons.statistics import rank_analyses
from comparisons.statistics._order import order_methods
from tests._own_fixtures import folder_tensors, write_factory_module, write_png_folder

TIMINGS = {"seconds-per-image", "metric-seconds", "train-seconds"}
RUN = {
    "eval_examples": 6,
    "batch_size": 6,
    "background_examples": 2,
    "figure_examples": 2,
    "num_threads": 1,
}
WINDOW = {"sliding_window_shapes": [1, 4, 4], "strides": [1, 4, 4]}
#: A factory module: a method whose map is its background's mean subtracted, scaled.
FACTORY_SOURCE = textwrap.dedent(
    """
    class Shifted:
        def __init__(self, model, background, scale):
            self.background, self.scale = background, scale

        def attribute(self, inputs, target=None, additional_forward_args=None):
            return (inputs - self.background.mean(0)) * self.scale


    def build(model, background, scale=1.0):
        return Shifted(model, background, scale)
    """
)


def _comparable(frame: pd.DataFrame) -> list[tuple]:
    kept = frame[~frame.metric.isin(TIMINGS)]
    return sorted(
        (r.method, r.metric, r.setting, "nan" if math.isnan(r.value) else r.value, r.n)
        for r in kept.itertuples()
    )


def _config(methods: dict) -> dict:
    """A config of data and a model given in Python (parsed, never run)."""
    return {
        "datasets": [{"name": "python", "options": {"label": "d"}}],
        "models": [{"name": "m", "python_object": "0123"}],
        "methods": methods,
        "metrics": {"names": ["deletion-auc"]},
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A PNG folder (test split only), a factory module of the model and of a method, the
    model's weights."""
    root = tmp_path_factory.mktemp("custom")
    write_png_folder(root / "scans", per_class=3, split="test")
    (root / "code").mkdir()
    (root / "code" / "own_methods_factory.py").write_text(FACTORY_SOURCE)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root / "code"))
        name = write_factory_module(root / "code")
        torch.manual_seed(7)
        model = build_factory_model(f"{name}:build", {}).eval()
        save_file(model.state_dict(), str(root / "model.safetensors"))
        yield root, name, model


def test_a_class_path_in_a_config_and_the_object_in_compare_give_the_same_rows(study):
    root, name, model = study
    images, labels = folder_tensors(3)
    metrics = ["deletion-auc"]
    rows = compare(
        model,
        (images, labels),
        methods={
            "ifim-sensitive": {},
            "ixg": InputXGradient(model),
            "occlusion-4": custom_method_spec("occlusion-4", Occlusion, attribute_options=WINDOW),
        },
        metrics=metrics,
        class_names=["benign", "malignant"],
        value_range=(0.0, 1.0),
        model_name="tiny",
        dataset_name="scans",
        output=root / "api-run",
        **RUN,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root / "code"))
        config = parse_config(
            {
                "run": {"name": "cli", **RUN},
                "datasets": [
                    {
                        "name": "image-folder",
                        "options": {"root": str(root / "scans"), "label": "scans"},
                    }
                ],
                "models": [
                    {
                        "name": "tiny",
                        "factory": f"{name}:build",
                        "weights": str(root / "model.safetensors"),
                    }
                ],
                "methods": {
                    "names": ["ifim-sensitive"],
                    "custom": [
                        {"name": "ixg", "class": "captum.attr.InputXGradient"},
                        {
                            "name": "occlusion-4",
                            "class": "captum.attr.Occlusion",
                            "attribute_options": WINDOW,
                        },
                    ],
                },
                "metrics": {"names": metrics},
            }
        )
        folder = run(config, root / "cli-run", progress=False)
    assert folder.failed == []
    from_config = pd.DataFrame([r.__dict__ for r in folder.rows()])
    assert set(rows.method) == {"", "ifim-sensitive", "ixg", "occlusion-4"}
    scored = {method for method, metric, *_ in _comparable(rows) if metric == "deletion-auc"}
    assert scored == {"ifim-sensitive", "ixg", "occlusion-4"}
    assert _comparable(rows) == _comparable(from_config)
    # Occlusion with a 4x4 window moves whole blocks: its map is constant on each block.
    maps = torch.load(root / "api-run" / "examples" / "scans__tiny__seed0__occlusion-4.pt")["maps"]
    assert torch.equal(maps[:, :, :4, :4], maps[:, :, :1, :1].expand(-1, -1, 4, 4))
    # Everywhere the built-ins go: the contrasts with the iFIM, figures, exports, the report.
    out = root / "api-run"
    assert {"ixg", "occlusion-4"} <= set(pd.read_csv(out / "paired.csv").method)
    assert {"ixg", "occlusion-4"} <= set(pd.read_csv(out / "results.csv").method)
    assert (out / "examples" / "scans__tiny__seed0__ixg.pt").is_file()
    assert any(out.glob("figures/maps__*.png"))
    report = (out / "report.md").read_text()
    assert "`occlusion-4`" in report and "`ixg`" in report
    facts = json.loads((out / "methods.json").read_text())
    assert facts["ixg"]["uses_target"] is True and facts["ixg"]["normalized_maps"] is False
    # Ranks (which need two blocks: the rows again as a second seed), after the registry's.
    second = [replace(r, seed=1, value=r.value * 1.1) for r in folder.rows() if r.method]
    analyses = rank_analyses([*folder.rows(), *second])
    assert analyses and list(analyses[0].methods) == ["ifim-sensitive", "ixg", "occlusion-4"]
    # The stored config says what was called.
    stored = json.loads((root / "cli-run" / "config.json").read_text())["config"]
    assert stored["methods"]["custom"][1]["class"] == "captum.attr.Occlusion"
    assert stored["methods"]["custom"][1]["attribute_options"] == WINDOW
    given = json.loads((root / "api-run" / "config.json").read_text())["config"]
    objects = [entry["python_object"] for entry in given["methods"]["custom"]]
    assert objects[0].startswith("captum.attr._core.input_x_gradient.InputXGradient")
    assert "sliding_window_shapes" in objects[1]
    # Custom methods come after the registry's in every reading order.
    assert order_methods(["occlusion-4", "saliency", "ixg"]) == ["saliency", "ixg", "occlusion-4"]
    colors = method_colors(["occlusion-4", "saliency", "ixg"])
    assert len(set(colors.values())) == 3
    assert "ixg" not in available_methods()  # never registered


def test_a_resume_with_another_definition_is_refused_and_the_same_one_resumes(
    study, tmp_path, monkeypatch
):
    _, _, model = study
    images, labels = folder_tensors(3)
    run = {**RUN, "figure_examples": 0}  # no map grid: the report is written at each call
    options = dict(metrics=["deletion-auc"], value_range=(0.0, 1.0), output=tmp_path / "run", **run)
    first = custom_method_spec("occ", Occlusion, attribute_options=WINDOW)
    rows = compare(model, (images, labels), methods={"occ": first}, **options)
    calls = []
    real = runner_module.run_cell
    monkeypatch.setattr(runner_module, "run_cell", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = compare(model, (images, labels), methods={"occ": first}, **options)
    assert calls == [] and _comparable(again) == _comparable(rows)
    other = custom_method_spec(
        "occ", Occlusion, attribute_options={"sliding_window_shapes": [1, 2, 2]}
    )
    with pytest.raises(ValueError, match=r"another config .*'occ' was python_object=.*\[1, 4, 4\]"):
        compare(model, (images, labels), methods={"occ": other}, **options)
    # The stored config reads back; its Python method is not there to build, and says so.
    stored = read_stored_config(tmp_path / "run" / "config.json")
    assert read_config_for_report(tmp_path / "run" / "config.toml") == stored  # the TOML too
    spec = stored.method_spec("occ")
    assert spec.uses_target and not spec.needs_background
    with pytest.raises(ValueError, match="run this run folder through compare"):
        build_method(spec, model)


def test_a_factory_gets_the_background_and_its_options(study):
    root, _, model = study
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root / "code"))
        entry = {
            "name": "shifted",
            "factory": "own_methods_factory:build",
            "options": {"scale": 2.0},
        }
        config = parse_config(_config({"names": ["saliency"], "custom": [entry]}))
        assert config.methods == ("saliency", "shifted")
        spec = config.method_spec("shifted")
        assert spec.needs_background and spec.uses_target and not spec.needs_target_layer
        assert parse_config(json.loads(json.dumps(config.to_dict()))) == config  # as stored
        background, x = torch.rand(4, 1, 12, 10), torch.rand(3, 1, 12, 10)
        maps = build_method(spec, model, background=background).attribute(x, target=0)
        assert torch.allclose(maps, (x - background.mean(0)) * 2.0)
        # Through compare, a factory's spec runs like any method.
        images, labels = folder_tensors(3)
        rows = compare(
            model,
            (images, labels),
            methods=["saliency", ("shifted", spec)],
            metrics=["deletion-auc"],
            value_range=(0.0, 1.0),
            **RUN,
        )
    assert set(rows[rows.metric == "deletion-auc"].method) == {"saliency", "shifted"}


def test_a_plain_function_that_is_saliency_gives_saliencys_rows(study):
    _, _, model = study
    images, labels = folder_tensors(3)

    def gradient(inputs, target):
        inputs = inputs.clone().requires_grad_(True)
        outputs = model(inputs)
        picked = outputs.gather(1, torch.as_tensor(target).view(-1, 1)).sum()
        return torch.autograd.grad(picked, inputs)[0].abs()

    rows = compare(
        model,
        (images, labels),
        methods={"saliency": {}, "my-gradient": gradient},
        metrics=["deletion-auc", "insertion-auc"],
        value_range=(0.0, 1.0),
        **RUN,
    )
    kept = rows[~rows.metric.isin(TIMINGS) & (rows.method != "")]
    mine = kept[kept.method == "my-gradient"].drop(columns="method").reset_index(drop=True)
    theirs = kept[kept.method == "saliency"].drop(columns="method").reset_index(drop=True)
    assert len(mine) >= 2
    pd.testing.assert_frame_equal(mine, theirs)


def test_a_function_that_takes_the_model_is_given_the_model_to_explain(study):
    _, _, model = study
    other = build_factory_model(f"{study[1]}:build", {}).eval()
    seen = []

    def mine(inputs, target, model):
        seen.append(model)
        return inputs * 0 + model(inputs)[:, :1, None, None]

    x = torch.rand(2, 1, 12, 10)
    assert not torch.allclose(model(x), other(x))
    maps = build_method(custom_method_spec("mine", mine), other).attribute(x, target=0)
    assert seen and all(m.get_submodule("head") is other.head for m in seen)
    assert torch.allclose(maps[:, 0, 0, 0], other(x)[:, 0])
    # Closing over the model instead: the function explains that model, whichever is given.
    closed = custom_method_spec(
        "closed", lambda inputs, target: model(inputs)[:, :1, None, None] + 0 * inputs
    )
    assert torch.allclose(
        build_method(closed, other).attribute(x, target=0)[:, 0, 0, 0], model(x)[:, 0]
    )


def test_captums_tuple_form_gives_a_tuple_in_the_inputs_shape(study):
    """Captum's metrics (max-sensitivity, infidelity) call a method with a 1-tuple of inputs."""
    _, _, model = study
    x = torch.rand(3, 1, 12, 10)
    for method in (lambda inputs, target: inputs * 2, LayerGradCam):
        built = build_method(custom_method_spec("mine", method), model)
        alone = built.attribute(x, target=[0, 1, 0])
        (in_tuple,) = built.attribute((x,), target=[0, 1, 0])
        assert alone.shape == in_tuple.shape == x.shape
        assert torch.equal(alone, in_tuple)


def test_a_layer_class_is_built_on_the_default_layer_and_upsampled(study):
    _, _, model = study
    spec = custom_method_spec("layer-gradcam", LayerGradCam)
    assert spec.needs_target_layer and spec.uses_target and not spec.needs_background
    x = torch.rand(3, 1, 12, 10)
    maps = build_method(spec, model, target_layer="features.1").attribute(x, target=[0, 1, 0])
    direct = LayerGradCam(model, model.features[1]).attribute(x, target=[0, 1, 0])
    expected = LayerAttribution.interpolate(direct, (12, 10), interpolate_mode="bilinear")
    assert maps.shape == x.shape
    assert torch.allclose(maps, expected, atol=1e-6)
    # Declared facts win over those read from the class.
    assert custom_method_spec("l", LayerGradCam, normalized_maps=True).normalized_maps


def test_one_name_two_definitions_in_two_configs_do_not_clash():
    first = parse_config(_config({"custom": [{"name": "mine", "class": "captum.attr.Saliency"}]}))
    second = parse_config(
        _config({"custom": [{"name": "mine", "class": "captum.attr.InputXGradient"}]})
    )
    assert first.methods[-1] == second.methods[-1] == "mine"
    assert "Saliency" in first.method_spec("mine").description
    assert "InputXGradient" in second.method_spec("mine").description
    assert first.fingerprint() != second.fingerprint()
    assert "mine" not in available_methods()
    with pytest.raises(ValueError, match="expected a method name"):
        get_method_spec("mine")
    # names may place a custom method; the others follow.
    placed = parse_config(
        _config(
            {
                "names": ["mine", "saliency"],
                "custom": [
                    {"name": "mine", "class": "captum.attr.Saliency"},
                    {"name": "later", "class": "captum.attr.InputXGradient"},
                ],
            }
        )
    )
    assert placed.methods == ("mine", "saliency", "later")


OCCLUSION = {"name": "occ", "class": "captum.attr.Occlusion", "attribute_options": WINDOW}


@pytest.mark.parametrize(
    ("custom", "extra", "error", "match"),
    [
        ([{"name": "x", "class": "captum.attr.NoSuchClass"}], {}, ValueError, "no 'NoSuchClass'"),
        (
            [{"name": "x", "class": "no_such_package_xyz.Method"}],
            {},
            ValueError,
            "cannot import module 'no_such_package_xyz'",
        ),
        (
            [{"name": "x", "class": "collections.OrderedDict"}],
            {},
            TypeError,
            "expected an attribution class",
        ),
        (
            [{**OCCLUSION, "options": {"window": 3}}],
            {},
            ValueError,
            r"options of .*Occlusion among \[\], got \['window'\]",
        ),
        (
            [{**OCCLUSION, "attribute_options": {"sliding_window": [1, 2, 2]}}],
            {},
            ValueError,
            r"among \['baselines', 'perturbations_per_eval', 'show_progress', "
            r"'sliding_window_shapes', 'strides'\], got \['sliding_window'\]",
        ),
        (
            [{"name": "x", "class": "captum.attr.Occlusion"}],
            {},
            ValueError,
            r"expected attribute_options \['sliding_window_shapes'\]",
        ),
        (
            [{"name": "x", "class": "captum.attr.NoiseTunnel"}],
            {},
            ValueError,
            "built on the model",
        ),
        (
            [{"name": "x", "factory": "no_such_package_xyz:build"}],
            {},
            ValueError,
            "cannot import module",
        ),
        ([{"name": "x", "factory": "collections:nothing"}], {}, ValueError, "no 'nothing'"),
        ([OCCLUSION, OCCLUSION], {}, ValueError, r"distinct \[\[methods.custom\]\] names"),
        (
            [{**OCCLUSION, "name": "saliency"}],
            {},
            ValueError,
            "the name of a built-in method",
        ),
        ([{"class": "captum.attr.Saliency"}], {}, ValueError, "expected a name"),
        ([{"name": "a/b", "class": "captum.attr.Saliency"}], {}, ValueError, "letters, digits"),
        (
            [{"name": "x", "class": "captum.attr.Saliency", "factory": "m:f"}],
            {},
            ValueError,
            "one of class or factory",
        ),
        ([{"name": "x"}], {}, ValueError, "one of class or factory"),
        (
            [{"name": "x", "class": "captum.attr.Saliency", "uses_target": "yes"}],
            {},
            TypeError,
            "true or false",
        ),
        ([{"name": "x", "class": "captum.attr.Saliency", "colour": 1}], {}, ValueError, "colour"),
        (
            [OCCLUSION],
            {"options": {"occ": {"strides": [1, 2, 2]}}},
            ValueError,
            r"in its \[\[methods.custom\]\] entry",
        ),
        ("captum.attr.Saliency", {}, TypeError, r"expected \[\[methods.custom\]\] entries"),
    ],
)
def test_bad_entries_are_refused_when_the_config_loads(custom, extra, error, match):
    section = {"names": ["saliency"], "custom": custom, **extra}
    with pytest.raises(error, match=match):
        parse_config(_config(section))


@pytest.mark.parametrize(
    ("methods", "error", "match"),
    [
        ({"mine": 42}, TypeError, "expected 'mine' to be an attribution class"),
        ({"mine": {"abs": True}}, ValueError, "not one: give your own method as an object"),
        ({"saliency": InputXGradient}, ValueError, "the name of a built-in method"),
        ({"mine": Occlusion}, ValueError, r"attribute_options \['sliding_window_shapes'\]"),
        (
            {"other": custom_method_spec("mine", InputXGradient)},
            ValueError,
            "to be named so, got 'mine'",
        ),
        ([("mine",)], TypeError, "a \\(name, method\\) pair"),
        ({"mine": lambda x, t: x, "gradcam": {"colour": 1}}, ValueError, "colour"),
    ],
)
def test_bad_methods_given_to_compare_are_refused_before_anything_runs(
    methods, error, match, tmp_path, monkeypatch
):
    monkeypatch.setattr(run_package, "run", lambda *a, **k: pytest.fail("it ran"))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    data = (torch.rand(6, 1, 8, 8), torch.arange(6) % 2)
    with pytest.raises(error, match=match):
        compare(model, data, methods=methods, output=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_options_given_twice_to_compare_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(run_package, "run", lambda *a, **k: pytest.fail("it ran"))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    data = (torch.rand(6, 1, 8, 8), torch.arange(6) % 2)
    with pytest.raises(ValueError, match=r"options of \['saliency'\] in methods or method_options"):
        compare(
            model,
            data,
            methods={"saliency": {"abs": False}},
            method_options={"saliency": {"abs": True}},
            output=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()


def test_a_factory_that_fails_on_the_model_is_refused_before_any_training(tmp_path, monkeypatch):
    (tmp_path / "failing_methods.py").write_text(
        "def build(model, target_layer, width=2):\n"
        "    raise ValueError(f'no layer of width {width} in {type(model).__name__}')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = parse_config(
        {
            "datasets": [{"name": "lumpy-sks", "options": {"image_size": 16}}],
            "models": [{"name": "shallow-cnn"}],
            "methods": {
                "names": ["saliency"],
                "custom": [{"name": "mine", "factory": "failing_methods:build"}],
            },
            "metrics": {"names": ["deletion-auc"]},
        }
    )
    assert config.method_spec("mine").needs_target_layer  # read from the signature
    monkeypatch.setattr(
        "comparisons.run._runner.group_model", lambda *a, **k: pytest.fail("it trained")
    )
    with pytest.raises(
        ValueError, match=r"\[\[methods.custom\]\] 'mine' with .*no layer of width 2"
    ):
        run(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
