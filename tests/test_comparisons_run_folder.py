"""The run-folder format's one owner: keys, rows, NaN <-> null, and the one report command."""

from __future__ import annotations

import json
import math

import pytest

from comparisons.run_folder import (
    RESULT_COLUMNS,
    CellKey,
    GroupKey,
    ResultRow,
    RunLayout,
    parse_example_name,
    results_csv,
    row_from_record,
    value_from_json,
    value_to_json,
)


def test_cell_keys_round_trip_through_their_text() -> None:
    for cell in (
        CellKey(GroupKey("mni-sks", "shallow-cnn", 0), "gradcam++"),
        CellKey(GroupKey("a_b", "m", -3), "ifim-sensitive"),
        CellKey(GroupKey("d", "resnet18", 12), "integrated-gradients"),
    ):
        assert CellKey.parse(cell.key) == cell
    cell = CellKey(GroupKey("mni-sks-3class", "resnet18", 2), "deepshap")
    assert cell.key == "mni-sks-3class__resnet18__seed2__deepshap"
    assert CellKey.parse(cell.key) == cell
    for bad in ("mni-sks__resnet18__gradcam", "x", ""):
        with pytest.raises(ValueError, match="cell key"):
            CellKey.parse(bad)
    layout = RunLayout(__import__("pathlib").Path("/run"))
    example = parse_example_name(layout.examples(cell.key))
    assert example is not None and (example.dataset, example.seed, example.method) == (
        "mni-sks-3class",
        2,
        "deepshap",
    )


def test_nan_is_null_and_infinities_stay() -> None:
    assert value_to_json(math.nan) is None and math.isnan(value_from_json(None))
    assert value_from_json(value_to_json(math.inf)) == math.inf
    with pytest.raises(ValueError, match="number or null"):
        value_from_json("1.0")
    row = ResultRow("d", "m", 0, "saliency", "f1-ratio", "alpha=0.01", math.nan, 8)
    record = row.to_record()
    assert record["value"] is None and list(record) == list(RESULT_COLUMNS)
    assert json.loads(json.dumps(record)) == record
    back = row_from_record(record)
    assert math.isnan(back.value) and back.key == row.key
    text = results_csv([row, ResultRow("d", "m", 0, "saliency", "f1-ratio", "x", math.inf, 1)])
    assert text.splitlines() == [
        ",".join(RESULT_COLUMNS),
        "d,m,0,saliency,f1-ratio,alpha=0.01,,8",
        "d,m,0,saliency,f1-ratio,x,inf,1",
    ]
