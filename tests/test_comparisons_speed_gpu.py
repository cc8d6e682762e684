"""The speed benchmark's gpu suite: its plan (ResNet50 and ViT-B/16 at 224 px, batch 32,
C = 2, 3, 10, 1000), its command line, and its cells measured here on the CPU at a small
size (the suite itself is for ``--device cuda``; docs/performance.md says where it ran)."""

from __future__ import annotations

import pytest

from comparisons.speed import PlanOptions, TimedCell, measure_cell, plan_cells
from comparisons.speed._cli import options_from_args, parser
from comparisons.speed._plan import (
    ALL_SUITES,
    GPU_BATCH,
    GPU_CLASSES,
    GPU_NETWORKS,
    GPU_SIDE,
    SUITES,
)
from comparisons.speed._speedups import GPU_SPEEDUPS, SpeedupCell, measure_speedup, plan_speedups

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_gpu_suite_plans_every_method_on_both_networks_at_224_and_batch_32():
    cells, skipped = plan_cells(PlanOptions(suites=("gpu",), device="cuda"))
    assert not skipped  # no cap below 224 px
    assert {(c.side, c.batch, c.device) for c in cells} == {(GPU_SIDE, GPU_BATCH, "cuda")}
    planned = {(c.model, c.num_classes, c.method, c.class_mass) for c in cells}
    expected = set()
    for network in GPU_NETWORKS:
        for c in GPU_CLASSES:
            mass = 0.99 if c == 1000 else None  # the exact iFIM up to C = 10
            expected |= {(network, c, "saliency", None), (network, c, "ifim-sensitive", mass)}
        expected |= {(network, 10, "scorecam", None), (network, 10, "deepshap", None)}
    assert planned == expected
    assert GPU_NETWORKS == ("tv-resnet50", "tv-vit_b_16") and GPU_CLASSES == (2, 3, 10, 1000)
    speedups = plan_speedups(("gpu",), None, None, None)
    assert [(s.comparison, s.model, s.num_classes) for s in speedups] == list(GPU_SPEEDUPS)
    assert {(s.side, s.batch) for s in speedups} == {(GPU_SIDE, GPU_BATCH)}
    # --suite all is every suite but this one: minutes on a GPU are hours on a CPU.
    assert "gpu" in SUITES and "gpu" not in ALL_SUITES and PlanOptions().suites == ALL_SUITES


def test_the_gpu_suite_takes_its_size_models_and_classes_from_the_command_line():
    args = ["--suite", "gpu", "--device", "cuda", "--gpu-side", "96", "--gpu-batch", "8"]
    options = options_from_args(parser().parse_args([*args, "--models", "tv-resnet50"]))
    assert options.suites == ("gpu",) and (options.gpu_side, options.gpu_batch) == (96, 8)
    cells, _ = plan_cells(options)
    assert {c.model for c in cells} == {"tv-resnet50"} and {c.side for c in cells} == {96}
    speedups = plan_speedups(options.suites, options.models, (3,), None, 96, 8)
    assert [(s.model, s.num_classes, s.side, s.batch) for s in speedups] == [
        ("tv-resnet50", 3, 96, 8)
    ]
    with pytest.raises(SystemExit):
        options_from_args(parser().parse_args(["--suite", "gpu", "--gpu-batch", "x"]))


def test_the_gpu_suites_cells_run_on_resnet50_at_a_small_size():
    """Its cells, measured in this process at 32 px and batch 2: Saliency, the iFIM with
    class_mass at C = 1000 (fewer than 999 backward passes), and the iFIM against its floor
    with the batched backward on the same network."""
    settings = {"repeats": 1, "warmup": 0, "cell_budget_s": 5.0}
    saliency = measure_cell(TimedCell(("gpu",), "tv-resnet50", 1000, 32, 2, "saliency", **settings))
    restricted = measure_cell(
        TimedCell(
            ("gpu",), "tv-resnet50", 1000, 32, 2, "ifim-sensitive", class_mass=0.99, **settings
        )
    )
    assert saliency.status == restricted.status == "ok", (saliency.reason, restricted.reason)
    assert restricted.retained_mass_min is not None and restricted.retained_mass_min >= 0.99
    assert 1 <= restricted.backward_passes < 999
    assert restricted.weights_checksum == saliency.weights_checksum
    rows = measure_speedup(SpeedupCell("ifim", "tv-resnet50", 3, 32, 2, repeats=1, warmup=0))
    variants = {r.variant: r for r in rows}
    assert all(r.status == "ok" for r in rows), [r.reason for r in rows]
    assert variants["ifim-batched"].difference is not None
    assert variants["ifim-batched"].difference < 1e-4  # batched = sequential, float32
    assert variants["floor"].backward_passes == 2 and variants["ifim-batched"].backward_passes == 2
