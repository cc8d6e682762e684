"""A method's facts follow from the method and its options: the registry, ``methods.json``
and the report's method table agree with what the configured method returns."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from captum_ifim import MethodSpec, available_methods, build_method, get_method_spec
from comparisons.config import parse_config
from comparisons.reporting._run_description import methods_markdown
from comparisons.run_folder import RunFolder, method_facts

#: The methods whose maps the ``normalization`` option rescales (pytorch-grad-cam's CAMs).
CAMS = [name for name in available_methods() if "normalization" in get_method_spec(name).options]


def _config(method_options: dict[str, dict[str, object]]):
    return parse_config(
        {
            "run": {"name": "facts", "seeds": [0], "eval_examples": 4, "num_threads": 1},
            "datasets": [{"name": "mni-sks", "options": {"image_size": 16}}],
            "models": [{"name": "shallow-cnn"}],
            "methods": {"names": ["gradcam", "gradcam++", "saliency"], "options": method_options},
            "metrics": {"names": ["energy-in-mask"]},
        }
    )


def _row(table: str, name: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_run_folder_records_a_cam_without_normalization_as_not_normalized(tmp_path) -> None:
    folder = RunFolder.create(tmp_path / "run", _config({"gradcam": {"normalization": "none"}}))
    methods = json.loads(folder.layout.methods.read_text())
    assert methods["gradcam"]["normalized_maps"] is False
    assert methods["gradcam++"]["normalized_maps"] is True  # its default options
    assert methods["saliency"]["normalized_maps"] is False
    table = methods_markdown(methods, ["gradcam", "gradcam++", "saliency"])
    assert _row(table, "gradcam")[2] == "no"
    assert _row(table, "gradcam++")[2] == "yes"
    note = table.strip().splitlines()[-1]
    assert "`gradcam++`" in note and "`gradcam`" not in note


def test_a_run_folder_of_default_options_records_the_registry_facts(tmp_path) -> None:
    folder = RunFolder.create(tmp_path / "run", _config({}))
    methods = json.loads(folder.layout.methods.read_text())
    assert methods["gradcam"]["normalized_maps"] is True
    assert methods == {name: method_facts(name) for name in methods}


@pytest.mark.parametrize("name", CAMS)
@pytest.mark.parametrize("normalization", ["relu-minmax", "none"])
def test_normalized_maps_is_what_the_configured_cam_returns(name: str, normalization: str) -> None:
    """The fact is checked against the maps: rescaled to [0, 1] with a 0 and a 1 in every
    image, or a signed map that is not."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()
    x = torch.randn(4, 1, 8, 8)
    options = {"normalization": normalization}
    maps = build_method(name, model, target_layer="2", **options).attribute(x, target=[0, 1, 2, 0])
    flat = maps.flatten(1)
    rescaled = bool((flat.amin(1).abs() < 1e-6).all() and ((flat.amax(1) - 1).abs() < 1e-6).all())
    assert method_facts(name, options)["normalized_maps"] is rescaled
    assert get_method_spec(name).facts(options)["normalized_maps"] is rescaled


def test_facts_refuse_options_the_method_does_not_take() -> None:
    spec = get_method_spec("gradcam")
    with pytest.raises(ValueError, match="expected options of 'gradcam'"):
        spec.facts({"normalisation": "none"})
    with pytest.raises(ValueError, match="normalization"):
        spec.facts({"normalization": "minmax"})


def test_facts_are_the_plain_fields_and_no_option_changes_the_other_methods() -> None:
    for name in available_methods():
        spec = get_method_spec(name)
        facts = spec.facts()
        assert facts["name"] == name and facts["normalized_maps"] is spec.normalized_maps
        assert all(isinstance(v, str | bool | int | float | type(None)) for v in facts.values())
        assert "factory" not in facts and "check_values" not in facts
    assert (
        get_method_spec("ifim-sensitive").facts({"class_mass": 0.5})
        == get_method_spec("ifim-sensitive").facts()
    )


def test_no_fact_is_true_of_every_method_by_construction() -> None:
    """``deterministic`` was true of every method whatever it did: it is no fact."""
    assert "deterministic" not in {f.name for f in dataclasses.fields(MethodSpec)}
    for name in available_methods():
        assert "deterministic" not in method_facts(name)


def test_the_methods_table_reads_the_methods_json_of_an_older_run() -> None:
    older = {
        "gradcam": {
            "name": "gradcam",
            "description": "Grad-CAM",
            "normalized_maps": True,
            "uses_target": True,
            "deterministic": True,
        }
    }
    table = methods_markdown(older, ["gradcam", "saliency"])
    assert table.splitlines()[0] == "| method | description | normalized maps | uses target |"
    assert _row(table, "gradcam") == ["`gradcam`", "Grad-CAM", "yes", "yes"]
    assert _row(table, "saliency") == ["`saliency`", "(not in methods.json)", "?", "?"]
