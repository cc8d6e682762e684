"""The speed benchmark's zoo suite: its plan, a measured cell, DeepSHAP's unsupported cells
and the per-architecture table (the zoo's own networks are built by the recorded run of
docs/performance.md; building them all here would cost half a minute)."""

from __future__ import annotations

import pytest
from torch import nn

from captum_ifim import available_methods
from comparisons.speed import (
    ZOO_CLASSES,
    ZOO_METHODS,
    ZOO_NETWORKS,
    PlanOptions,
    Row,
    TimedCell,
    ZooNetwork,
    _measure,
    _zoo,
    build_zoo_network,
    measure_cell,
    plan_cells,
    summary_markdown,
)
from comparisons.speed._plan import ZOO_EVERY_METHOD_NETWORKS, zoo_methods


def test_the_zoo_suite_plans_every_network_once_per_method_at_its_size() -> None:
    cells, skipped = plan_cells(PlanOptions(suites=("zoo",)))
    assert not skipped
    assert {(c.model, c.method) for c in cells} == {
        (name, method) for name in ZOO_NETWORKS for method in zoo_methods(name)
    }
    every = set(available_methods())  # a row for every registered method (issue 22, item 6)
    for name in ZOO_NETWORKS:
        timed = {c.method for c in cells if c.model == name}
        assert timed == (every if name in ZOO_EVERY_METHOD_NETWORKS else set(ZOO_METHODS))
    assert all(c.num_classes == ZOO_CLASSES[0] and c.batch == 1 for c in cells)
    assert {c.side for c in cells if c.model == "monai-densenet121-3d"} == {32}
    assert {c.side for c in cells if c.model == "tv-resnet50"} == {64}
    volume = next(c for c in cells if c.model == "monai-densenet121-3d")
    assert Row.for_cell(volume, "ok").pixels == 32**3
    only, _ = plan_cells(
        PlanOptions(suites=("zoo",), models=("tv-swin_t",), methods=("ifim-sensitive",))
    )
    assert {(c.model, c.method) for c in only} == {
        ("tv-swin_t", "ifim-sensitive"),
        ("tv-swin_t", "saliency"),
    }


def _tiny_vit(num_classes: int, side: int) -> nn.Module:
    from torchvision.models import VisionTransformer

    return VisionTransformer(side, 8, 1, 2, 16, 32, num_classes=num_classes)


def test_a_zoo_cell_is_measured_and_deepshap_where_it_has_no_rule_is_skipped(monkeypatch):
    pytest.importorskip("torchvision")
    tiny = ZooNetwork("tiny-vit", "torchvision", _tiny_vit)
    monkeypatch.setattr(_zoo, "ZOO_NETWORKS", {"tiny-vit": tiny})
    monkeypatch.setattr(_measure, "ZOO_NETWORKS", {"tiny-vit": tiny})
    monkeypatch.setattr(_zoo, "ZOO_SIDE", 16)
    model = build_zoo_network("tiny-vit", 3, 16, seed=0)
    assert model.heads.head.weight.abs().sum() > 0  # the zero-initialised head was redrawn
    cell = TimedCell(("zoo",), "tiny-vit", 3, 16, 1, "gradcam", repeats=1, warmup=0)
    row = measure_cell(cell)
    assert row.status == "ok" and row.median_s is not None and row.median_s > 0
    deepshap = measure_cell(TimedCell(("zoo",), "tiny-vit", 3, 16, 1, "deepshap", warmup=0))
    assert deepshap.status == "skipped"
    assert "no exact rule for LayerNorm at 'encoder.layers.encoder_layer_0.ln_1'" in deepshap.reason
    table = summary_markdown([row, deepshap], {}, {})
    assert "## Seconds per image, per architecture (zoo suite)" not in table  # not in the zoo
    monkeypatch.setattr("comparisons.speed._summary.ZOO_NETWORKS", {"tiny-vit": tiny})
    table = summary_markdown([row, deepshap], {}, {})
    line = next(x for x in table.splitlines() if x.startswith("| tiny-vit |"))
    assert line.startswith("| tiny-vit | 3 x 16 x 16 | 3 | ") and line.endswith("| unsupported |")


def test_every_other_method_gets_a_row_of_its_own_in_the_zoo_summary(monkeypatch):
    pytest.importorskip("torchvision")
    tiny = ZooNetwork("tiny-vit", "torchvision", _tiny_vit)
    monkeypatch.setattr(_zoo, "ZOO_NETWORKS", {"tiny-vit": tiny})
    monkeypatch.setattr(_measure, "ZOO_NETWORKS", {"tiny-vit": tiny})
    monkeypatch.setattr("comparisons.speed._summary.ZOO_NETWORKS", {"tiny-vit": tiny})
    monkeypatch.setattr(_zoo, "ZOO_SIDE", 16)
    rows = [
        measure_cell(TimedCell(("zoo",), "tiny-vit", 3, 16, 1, method, repeats=1, warmup=0))
        for method in ("saliency", "input-x-gradient", "lrp")
    ]
    assert [r.status for r in rows] == ["ok", "ok", "skipped"]
    assert "no exact rule for LayerNorm" in rows[2].reason  # LRP has no rule for it
    lines = summary_markdown(rows, {}, {}).splitlines()
    start = lines.index("## Seconds per image, every method (zoo suite)")
    assert lines[start + 2] == "| method | tiny-vit |"
    assert lines[start + 4].startswith("| input-x-gradient | ") and lines[start + 4] != (
        "| input-x-gradient |  |"
    )
    assert lines[start + 5] == "| lrp | unsupported |"
