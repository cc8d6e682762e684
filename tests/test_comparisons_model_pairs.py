"""The model-pair stage on a tiny 2-D run: two seeds of the shallow CNN compared on the same
images (iFIM subspace overlap, map correlation), resumable, merged across shards, and a
model compared with itself overlaps fully."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from captum_ifim import build_method
from captum_ifim.metrics import ifim_subspace_overlap, pearson_per_sample
from comparisons.config import parse_config
from comparisons.datasets import load_dataset
from comparisons.metrics import row_direction
from comparisons.reporting import write_report
from comparisons.reporting._model_pairs_report import PairRow, model_pair_table
from comparisons.reporting._overlap_matrix_figure import matrix_groups, pair_matrix
from comparisons.run import merge, run
from comparisons.run._group_models import group_model
from comparisons.run._model_pairs import (
    MAP_CORRELATION,
    SUBSPACE_OVERLAP,
    EvaluatedMaps,
    compare_maps,
    compare_model_pairs,
    model_pairs,
)
from comparisons.run_folder import GroupKey, PairKey, ResultRow, RunFolder

METHODS = ["ifim-sensitive", "saliency", "gradcam"]
DATASET = {"num_train": 48, "num_val": 12, "num_test": 12, "image_size": 16}
TINY = {
    "run": {
        "name": "pairs",
        "seeds": [0, 1],
        "eval_examples": 6,
        "batch_size": 3,
        "figure_examples": 2,
        "background_examples": 4,
        "num_threads": 1,
    },
    "datasets": [{"name": "mni-sks", "options": DATASET}],
    "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 16}}],
    "methods": {"names": METHODS},
    "metrics": {"names": ["energy-in-mask"]},
}
PAIR = PairKey(GroupKey("mni-sks", "shallow-cnn", 0), GroupKey("mni-sks", "shallow-cnn", 1))


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pairs")
    config = parse_config(copy.deepcopy(TINY))
    folder = run(config, root / "run", cache_dir=root / "cache", progress=False)
    folder.write_tables()
    return folder, config, root


def _pair_rows(folder: RunFolder) -> list:
    return [r for r in folder.rows() if PairKey.from_row(r.dataset, r.model, r.setting)]


def test_the_pair_of_two_seeds_has_its_rows(pair_run) -> None:
    folder, config, _ = pair_run
    assert model_pairs(config) == [PAIR]
    rows = _pair_rows(folder)
    assert {(r.method, r.metric) for r in rows} == {
        ("ifim-sensitive", SUBSPACE_OVERLAP),
        *((m, MAP_CORRELATION) for m in METHODS),
    }
    for row in rows:
        assert (row.model, row.setting, row.seed) == ("shallow-cnn|shallow-cnn", "seeds=0|1", 0)
        assert 1 <= row.n <= 6 and math.isfinite(row.value)
        low = 0.0 if row.metric == SUBSPACE_OVERLAP else -1.0
        assert low <= row.value <= 1.0
        assert row_direction(row.metric).direction == "none"  # never ranked
    tables = json.loads(folder.layout.results_json.read_text())
    assert sum(r["model"] == "shallow-cnn|shallow-cnn" for r in tables) == len(rows)


def test_the_pair_values_are_those_of_the_two_models(pair_run) -> None:
    """Recomputed from the two trained models: the overlap as the library's model-based
    ifim_subspace_overlap gives it, the saliency correlation from fresh maps."""
    folder, config, root = pair_run
    record = folder.pair_record(PAIR.key)
    assert record is not None and record["methods"] == METHODS
    examples = record["examples"]
    dataset = load_dataset("mni-sks", **DATASET)
    indices = torch.tensor(examples["ifim-sensitive"]["test_index"])
    images = dataset.test.images[indices]
    cpu = torch.device("cpu")
    models = [
        group_model(config.models[0], dataset, seed, root / "cache", cpu, False).model
        for seed in (0, 1)
    ]
    expected = ifim_subspace_overlap(*models, images)
    stored = torch.tensor(examples["ifim-sensitive"][SUBSPACE_OVERLAP], dtype=torch.float64)
    torch.testing.assert_close(stored, expected.overlap, atol=1e-5, rtol=0)
    assert examples["ifim-sensitive"]["num_components_a"] == expected.num_components_a.tolist()
    correlation = torch.tensor(examples["ifim-sensitive"][MAP_CORRELATION], dtype=torch.float64)
    torch.testing.assert_close(correlation, expected.map_correlation, atol=2e-3, rtol=0)
    labels = dataset.test.labels[indices]
    maps = [build_method("saliency", m).attribute(images, target=labels) for m in models]
    saliency = torch.tensor(examples["saliency"][MAP_CORRELATION], dtype=torch.float64)
    torch.testing.assert_close(saliency, pearson_per_sample(*maps), atol=2e-3, rtol=0)


def test_a_model_compared_with_itself_overlaps_fully(pair_run) -> None:
    folder, _, _ = pair_run
    cell = f"{PAIR.a.key}__ifim-sensitive"
    stored = folder.load_maps(cell)
    assert stored is not None and stored["maps"].dtype == torch.float16
    evaluated = EvaluatedMaps.from_record(stored)
    same = compare_maps(evaluated, evaluated)
    defined = ~same.overlap.isnan()
    assert defined.any()
    torch.testing.assert_close(same.overlap[defined], torch.ones(int(defined.sum())).double())
    correlation = same.map_correlation[~same.map_correlation.isnan()]
    torch.testing.assert_close(correlation, torch.ones_like(correlation))


def test_a_pair_done_is_not_recomputed_and_a_changed_one_is(pair_run) -> None:
    folder, config, _ = pair_run
    path = folder.layout.pair(PAIR.key)
    before = path.read_bytes()
    again = compare_model_pairs(folder, config)
    assert again.done == (PAIR,) and again.written == () and path.read_bytes() == before
    # The record lists fewer methods than the groups have now (a cell redone since): redone.
    record = json.loads(before)
    record["methods"] = METHODS[:1]
    path.write_text(json.dumps(record))
    redone = compare_model_pairs(folder, config)
    assert redone.written == (PAIR,)
    assert json.loads(path.read_bytes())["methods"] == METHODS


def test_a_pair_waits_for_its_groups_and_the_merge_of_shards_compares_it(pair_run) -> None:
    folder, config, root = pair_run
    shards = []
    for index in (1, 2):
        shard = run(
            config,
            root / f"shard{index}",
            shard=(index, 2),
            cache_dir=root / "cache",
            progress=False,
        )
        assert not shard.layout.pair(PAIR.key).exists()  # one group per shard: no pair yet
        assert compare_model_pairs(shard, config).waiting == (PAIR,)
        shards.append(shard.path)
    merged, missing = merge(root / "merged", shards)
    assert missing == []

    def values(f: RunFolder) -> list:
        return sorted((r.method, r.metric, r.value, r.n) for r in _pair_rows(f))

    assert values(merged) == values(folder)


def test_pair_keys_round_trip_through_result_rows_and_refuse_ambiguous_names() -> None:
    key = PairKey.from_row("d", "a|b", "seeds=0|3")
    assert key == PairKey(GroupKey("d", "a", 0), GroupKey("d", "b", 3))
    assert (key.model, key.setting, key.key) == ("a|b", "seeds=0|3", "d__a__seed0__vs__b__seed3")
    assert PairKey.from_row("d", "shallow-cnn", "alpha=0.01") is None
    with pytest.raises(ValueError, match="without '\\|'"):
        PairKey(GroupKey("d", "a|x", 0), GroupKey("d", "b", 0))
    with pytest.raises(ValueError, match="one dataset"):
        PairKey(GroupKey("d", "a", 0), GroupKey("e", "a", 1))


def test_the_report_has_the_pair_section_and_keeps_pairs_out_of_the_cell_tables(pair_run) -> None:
    folder, _, _ = pair_run
    report = write_report(folder.path).read_text()
    section = report.split("## Across models: iFIM subspaces and map agreement")[1]
    assert "![model-pair matrix](figures/model_pairs__mni-sks.png)" in section
    assert "| shallow-cnn seeds (1 pair) |" in section
    assert (folder.path / "figures" / "model_pairs__mni-sks.png").is_file()
    assert (folder.path / "tables" / "model_pairs__mni-sks.csv").is_file()
    before_section = report.split("## Across models")[0]
    assert "shallow-cnn|shallow-cnn" not in before_section  # no per-(dataset, model) table
    summary = (folder.path / "summary.csv").read_text()
    assert "shallow-cnn|shallow-cnn" not in summary and "shallow-cnn," in summary


def _pair_row(a: tuple[str, int], b: tuple[str, int], method: str, metric: str, value: float):
    pair = PairKey(GroupKey("d", *a), GroupKey("d", *b))
    row = ResultRow("d", pair.model, a[1], method, metric, pair.setting, value, 4)
    return PairRow(pair, row)


def test_the_matrix_and_the_table_of_pairs_by_kind() -> None:
    rows = [
        _pair_row(("cnn", 0), ("cnn", 1), "ifim-sensitive", SUBSPACE_OVERLAP, 0.5),
        _pair_row(("cnn", 0), ("res", 0), "ifim-sensitive", SUBSPACE_OVERLAP, 0.2),
        _pair_row(("cnn", 1), ("res", 0), "ifim-sensitive", SUBSPACE_OVERLAP, 0.4),
        _pair_row(("cnn", 0), ("cnn", 1), "saliency", MAP_CORRELATION, 0.9),
    ]
    groups = matrix_groups(rows, ["res", "cnn"])
    assert [(g.model, g.seed) for g in groups] == [("res", 0), ("cnn", 0), ("cnn", 1)]
    matrix = pair_matrix(rows, groups, "ifim-sensitive", SUBSPACE_OVERLAP)
    expected = [[1.0, 0.2, 0.4], [0.2, 1.0, 0.5], [0.4, 0.5, 1.0]]
    assert matrix.tolist() == expected  # symmetric, 1 on the diagonal
    assert math.isnan(pair_matrix(rows, groups, "ifim-sensitive", MAP_CORRELATION)[0, 1])
    table = model_pair_table(rows, "d", ["cnn", "res"])
    assert table is not None
    assert table.header == ("method", "metric", "cnn seeds (1 pair)", "cnn vs res (2 pairs)")
    assert table.rows == (
        ("ifim-sensitive", SUBSPACE_OVERLAP, "0.500", "0.300 ± 0.141"),  # std of 0.2, 0.4
        ("saliency", MAP_CORRELATION, "0.900", "—"),
    )
    assert model_pair_table(rows, "other") is None
