"""The embedded 3-D config: volumes, the two 3-D models, two seeds (so that model pairs
exist), every method through every metric; it parses and round-trips through TOML."""

from __future__ import annotations

import tomllib

from captum_ifim import PAPER_METHODS
from captum_ifim.metrics import available_metrics
from comparisons.config import EMBEDDED_CONFIGS, load_config, parse_config
from comparisons.config import dumps_toml as dumps
from comparisons.models import get_model_spec
from comparisons.run._model_pairs import model_pairs


def test_the_3d_config_runs_every_method_and_metric_on_volumes() -> None:
    assert "3d" in EMBEDDED_CONFIGS
    config = load_config("3d")
    assert parse_config(tomllib.loads(dumps(config.to_dict()))) == config
    assert {d.name for d in config.datasets} <= {"mni-sks-3d", "mni-sks-3d-3class"}
    assert [m.name for m in config.models] == ["shallow-cnn-3d", "resnet3d-18"]
    assert all(get_model_spec(m.name).spatial_dims == 3 for m in config.models)
    assert config.methods == PAPER_METHODS
    assert set(config.metrics) == set(available_metrics())
    assert len(config.seeds) >= 2 and config.device == "cpu"
    # Every two of a dataset's trained models are compared: seeds of one model and across.
    per_dataset = len(config.models) * len(config.seeds)
    expected = len(config.datasets) * per_dataset * (per_dataset - 1) // 2
    assert len(model_pairs(config)) == expected
