"""The speed benchmark: the naive baseline equals the iFIM, backward passes are counted
right, the target checks decide right, and a quick run writes its CSV and figures.

No timing is asserted: the figures themselves are benchmark output, not test results.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from captum_ifim import IFIMDecomposition, available_methods, build_method
from comparisons.models import build_model
from comparisons.speed import (
    COLUMNS,
    GRID_METHODS,
    METHODS,
    ZOO_METHODS,
    BackwardCounter,
    PlanOptions,
    Row,
    add_saliency_ratios,
    check_targets,
    main,
    method_call,
    naive_ifim_decomposition,
    naive_ifim_map,
    options_from_args,
    parser,
    plan_cells,
    read_rows,
    scale_logits,
    summary_markdown,
    time_calls,
    write_rows,
)
from comparisons.speed._timed_cell import NAIVE

TIGHT = {"rtol": 1e-9, "atol": 1e-11}


def _shallow(num_classes: int, side: int = 16, dtype: torch.dtype = torch.float32) -> nn.Module:
    return build_model("shallow-cnn", 1, num_classes, (side, side), seed=3).to(dtype).eval()


# ---------------------------------------------------------------- the naive baseline


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_naive_procedure_equals_the_ifim_decomposition(make_net, num_classes):
    model = make_net(num_classes=num_classes)
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    for energy in (0.6, 0.9, 1.0):
        naive = naive_ifim_decomposition(model, x, energy=energy)
        exact = IFIMDecomposition(model).decompose(x, energy=energy)
        r = num_classes - 1
        torch.testing.assert_close(naive.eigenvalues[:, :r], exact.eigenvalues, **TIGHT)
        assert torch.equal(naive.eigenvalues[:, r], torch.zeros(4, dtype=torch.float64))
        assert torch.equal(naive.rank, exact.rank)
        assert torch.equal(naive.num_components, exact.num_components)
        torch.testing.assert_close(naive.sensitive, exact.sensitive.flatten(1), **TIGHT)
        torch.testing.assert_close(naive.insensitive, exact.insensitive.flatten(1), **TIGHT)
        torch.testing.assert_close(naive.probs, exact.probs, **TIGHT)


def test_naive_map_equals_the_ifim_on_the_benchmarked_relu_cnn():
    model = _shallow(3, dtype=torch.float64)
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    expected = IFIMDecomposition(model).attribute(x)
    torch.testing.assert_close(naive_ifim_map(model, x), expected, **TIGHT)


def test_naive_eigenvectors_are_orthonormal_and_inputs_untouched(make_net):
    model = make_net(num_classes=4)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    before = x.clone()
    naive = naive_ifim_decomposition(model, x, energy=1.0)
    assert torch.equal(x, before) and not x.requires_grad
    for n in range(2):
        u = naive.eigenvectors[n, : int(naive.rank[n])]
        torch.testing.assert_close(u @ u.T, torch.eye(len(u), dtype=torch.float64), **TIGHT)


def test_naive_rejects_bad_arguments(make_net):
    with pytest.raises(ValueError, match="expected inputs of shape"):
        naive_ifim_decomposition(make_net(), torch.randn(36, dtype=torch.float64))
    with pytest.raises(ValueError, match="expected energy"):
        naive_ifim_decomposition(make_net(), torch.randn(1, 1, 6, 6, dtype=torch.float64), 0.0)


# ---------------------------------------------------------------- backward passes


class _ConvOutputPasses:
    """Independent count: gradients reaching the first convolution's output tensors."""

    def __init__(self, module: nn.Module) -> None:
        self.count = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: object, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.register_hook(self._seen)

    def _seen(self, grad: torch.Tensor) -> None:
        self.count += 1

    def remove(self) -> None:
        self._handle.remove()


def _counts(method: str, model: nn.Module, x: torch.Tensor, **kwargs: object) -> tuple[int, int]:
    with torch.no_grad():
        targets = model(x).argmax(1)
    call = method_call(method, model, x, targets, torch.zeros(2, *x.shape[1:]), **kwargs)
    hooks = _ConvOutputPasses(model.features.conv1)
    try:
        with BackwardCounter() as counter:
            call()
    finally:
        hooks.remove()
    return counter.count, hooks.count


@pytest.mark.parametrize("num_classes", [2, 3, 6])
def test_backward_passes_ifim_saliency_naive(num_classes):
    model = _shallow(num_classes)
    x = torch.randn(3, 1, 16, 16)
    passes = num_classes - 1
    assert _counts("ifim-sensitive", model, x, backward="sequential") == (passes, passes)
    # Vectorized: the counter counts the passes it stands for, the hook sees one (or none).
    batched_hook = min(passes, 1)
    assert _counts("ifim-sensitive", model, x, backward="batched") == (passes, batched_hook)
    assert _counts("ifim-sensitive", model, x)[0] == passes
    assert _counts("saliency", model, x) == (1, 1)
    assert _counts("naive", model, x) == (3 * num_classes, 3 * num_classes)
    assert _counts("gradcam", model, x) == (1, 1)
    assert _counts("scorecam", model, x) == (0, 0)


def test_class_mass_needs_fewer_backward_passes():
    num_classes, mass = 20, 0.9
    model = _shallow(num_classes)
    with torch.no_grad():
        model.classifier.weight.mul_(40)  # a peaked predictive distribution
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        probs = torch.softmax(model(x).double(), dim=1)
    ordered = probs.sort(dim=1, descending=True).values
    kept = int(((ordered.cumsum(1) - ordered) < mass).sum(1).max())
    assert kept < num_classes - 1
    assert _counts("ifim-sensitive", model, x, class_mass=mass)[0] == kept
    sequential = {"backward": "sequential"}
    assert _counts("ifim-sensitive", model, x, class_mass=mass, **sequential) == (kept, kept)
    passes = num_classes - 1
    assert _counts("ifim-sensitive", model, x, **sequential) == (passes, passes)
    result = IFIMDecomposition(model, class_mass=mass).decompose(x)
    assert bool((result.retained_mass >= mass).all())


def test_backward_counter_restores_autograd_and_counts_tensor_backward():
    grad, backward = torch.autograd.grad, torch.autograd.backward
    x = torch.ones(3, requires_grad=True)
    with BackwardCounter() as counter:
        (x * x).sum().backward()
        torch.autograd.grad((2 * x).sum(), x)
    assert counter.count == 2
    assert torch.autograd.grad is grad and torch.autograd.backward is backward
    torch.testing.assert_close(x.grad, 2 * torch.ones(3))


# ---------------------------------------------------------------- target checks


def _row(
    method: str,
    median: float,
    *,
    model: str = "resnet18",
    c: int = 2,
    side: int = 128,
    batch: int = 16,
    **measured: object,
) -> Row:
    row = Row(
        suite="targets",
        model=model,
        num_classes=c,
        side=side,
        pixels=side * side,
        batch=batch,
        method=method,
        class_mass=measured.pop("class_mass", None),
        logit_scale=measured.pop("logit_scale", 1.0),
        device=measured.pop("device", "cpu"),
        threads=2,
        status=measured.pop("status", "ok"),
        median_s=median,
    )
    for key, value in measured.items():
        setattr(row, key, value)
    return row


def _statuses(rows: list[Row]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for check in check_targets(rows)["cpu"]:
        found.setdefault(check.name, []).append(check.status)
    return found


def test_ratio_and_naive_targets_pass_and_fail_at_their_thresholds():
    medians = {
        2: {"saliency": 1.0, "ifim-sensitive": 1.15, "naive": 2.875},
        3: {"saliency": 1.0, "ifim-sensitive": 1.61, "naive": 4.0},
    }
    rows = [
        _row(method, median, c=c)
        for c, per_method in medians.items()
        for method, median in per_method.items()
    ]
    statuses = _statuses(rows)
    assert statuses["ifim-sensitive/saliency C=2"] == ["PASS"]  # 1.15 <= 1.15
    assert statuses["ifim-sensitive/saliency C=3"] == ["FAIL"]  # 1.61 > 1.6
    assert statuses["naive/ifim-sensitive resnet18 C=2 128px"] == ["PASS"]  # exactly 2.5
    assert statuses["naive/ifim-sensitive resnet18 C=3 128px"] == ["FAIL"]  # 2.48
    rows[4].median_s = 1.6
    assert _statuses(rows)["ifim-sensitive/saliency C=3"] == ["PASS"]


def test_targets_without_measurements_are_not_measured_and_ignore_failed_rows():
    rows = [
        _row("saliency", 1.0),
        _row("ifim-sensitive", 0.5, status="failed"),
        _row("naive", 9.0, status="skipped"),
    ]
    statuses = _statuses(rows)
    assert statuses["ifim-sensitive/saliency C=2"] == ["NOT MEASURED"]
    assert statuses["naive/ifim-sensitive"] == ["NOT MEASURED"]
    assert statuses["memory at 1024"] == ["NOT MEASURED"]
    assert statuses["C=100 backward passes"] == ["NOT MEASURED"]
    assert statuses["C=100 class_mass"] == ["NOT MEASURED"]


def test_memory_target_uses_the_absolute_peak():
    passing = _row(
        "ifim-sensitive", 5.0, side=1024, batch=4, rss_peak_mib=4095.0, rss_increase_mib=3000.0
    )
    assert _statuses([passing])["memory at 1024"] == ["PASS"]
    passing.rss_peak_mib = 4096.0
    assert _statuses([passing])["memory at 1024"] == ["FAIL"]
    cuda = _row(
        "ifim-sensitive",
        5.0,
        side=1024,
        batch=4,
        device="cuda",
        rss_peak_mib=9e9,
        cuda_peak_mib=1000.0,
    )
    assert [c.status for c in check_targets([cuda])["cuda"] if c.name == "memory at 1024"] == [
        "PASS"
    ]


def test_linearity_targets_use_the_two_largest_sides():
    def grid(time_exponent: float, memory_exponent: float) -> list[Row]:
        return [
            _row(
                "ifim-sensitive",
                1e-6 * (s * s) ** time_exponent + (5.0 if s == 64 else 0.0),
                model="shallow-cnn",
                side=s,
                batch=4,
                rss_increase_mib=1e-4 * (s * s) ** memory_exponent,
            )
            for s in (64, 256, 1024)
        ]

    linear = _statuses(grid(1.0, 1.0))
    assert linear["time linear in pixels, shallow-cnn"] == ["PASS"]
    assert linear["memory linear in pixels, shallow-cnn"] == ["PASS"]
    quadratic = _statuses(grid(1.2, 2.0))
    assert quadratic["time linear in pixels, shallow-cnn"] == ["FAIL"]
    assert quadratic["memory linear in pixels, shallow-cnn"] == ["FAIL"]
    saliency_like = grid(1.2, 1.0) + [
        _row("saliency", 1e-6 * (s * s) ** 1.18, model="shallow-cnn", side=s, batch=4)
        for s in (64, 256, 1024)
    ]
    relative = _statuses(saliency_like)
    assert relative["time linear in pixels, shallow-cnn"] == ["FAIL"]  # 1.2 > 1.15
    assert relative["time relative to Saliency flat in pixels, shallow-cnn"] == ["PASS"]
    assert _statuses(grid(1.0, 1.0) + saliency_like[3:])[
        "time relative to Saliency flat in pixels, shallow-cnn"
    ] == ["PASS"]
    saliency_like[3:] = [
        _row("saliency", 1e-6 * (s * s) ** 1.1, model="shallow-cnn", side=s, batch=4)
        for s in (64, 256, 1024)
    ]
    assert _statuses(saliency_like)["time relative to Saliency flat in pixels, shallow-cnn"] == [
        "FAIL"
    ]
    check = next(c for c in check_targets(grid(1.0, 2.0))["cpu"] if c.name.startswith("memory l"))
    assert "2.00" in check.measured and "256->1024px" in check.measured


def test_many_classes_targets():
    def rows(passes: int, mass_passes: int, mass_time: float) -> list[Row]:
        return [
            _row("saliency", 0.1, c=100),
            _row("ifim-sensitive", 5.0, c=100, backward_passes=passes),
            _row(
                "ifim-sensitive",
                mass_time,
                c=100,
                backward_passes=mass_passes,
                class_mass=0.99,
                retained_mass_min=0.991,
            ),
        ]

    good = _statuses(rows(99, 32, 2.0))
    assert good["C=100 backward passes"] == ["PASS"]
    assert good["C=100 class_mass"] == ["PASS"]
    bad = _statuses(rows(98, 99, 6.0))
    assert bad["C=100 backward passes"] == ["FAIL"]
    assert bad["C=100 class_mass"] == ["FAIL"]
    scaled = [
        _row("saliency", 0.1, c=100, logit_scale=4.0),
        _row("ifim-sensitive", 5.0, c=100, backward_passes=99, logit_scale=4.0),
        _row("ifim-sensitive", 0.5, c=100, backward_passes=5, class_mass=0.99, logit_scale=4.0),
    ]
    both = _statuses(rows(99, 93, 4.9) + scaled)
    assert both["C=100 class_mass"] == ["PASS"]
    assert both["C=100 class_mass, logits x4"] == ["PASS"]
    assert both["C=100 backward passes, logits x4"] == ["PASS"]
    too_slow = rows(99, 32, 2.0)
    too_slow[1].median_s = 0.1 * 99 * 1.2  # more than 1.15 (C - 1) Saliency calls
    assert _statuses(too_slow)["C=100 backward passes"] == ["FAIL"]


def test_scale_logits_multiplies_the_outputs():
    model = _shallow(4)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        before = model(x)
        scale_logits(model, 4.0)
        torch.testing.assert_close(model(x), 4 * before)
    with pytest.raises(ValueError, match=r"nn\.Linear"):
        scale_logits(nn.Sequential(nn.Conv2d(1, 2, 3)), 2.0)


def test_saliency_ratios_match_their_own_configuration():
    rows = [
        _row("saliency", 2.0, c=2),
        _row("ifim-sensitive", 3.0, c=2),
        _row("saliency", 4.0, c=3),
        _row("ifim-sensitive", 5.0, c=3),
        _row("ifim-sensitive", 1.0, c=10),
    ]
    add_saliency_ratios(rows)
    assert [r.ratio_to_saliency for r in rows] == [1.0, 1.5, 1.0, 1.25, None]


# ---------------------------------------------------------------- plan, timing, CSV


def test_plan_caps_slow_methods_and_merges_suites():
    cells, skipped = plan_cells(PlanOptions())
    keys = [cell.key for cell in cells]
    assert len(keys) == len(set(keys))
    reasons = {(r.method, r.model, r.side): r.reason for r in skipped}
    assert ("scorecam", "resnet18", 256) in reasons and ("deepshap", "shallow-cnn", 1024) in reasons
    assert "--max-side scorecam=256" in reasons[("scorecam", "resnet18", 256)]
    assert all(r.status == "skipped" and r.median_s is None for r in skipped)
    memory = [
        c for c in cells if (c.model, c.num_classes, c.side, c.batch) == ("resnet18", 2, 1024, 4)
    ]
    assert {c.method for c in memory} == {"saliency", "ifim-sensitive", "gradcam"}
    assert all(c.suites == ("grid", "targets") for c in memory if c.method != "gradcam")
    configurations = {c.configuration for c in cells}
    assert {c.configuration for c in cells if c.method == "saliency"} == configurations
    targets = {
        (c.num_classes, c.side, c.batch, c.method, c.class_mass)
        for c in cells
        if "targets" in c.suites
    }
    assert {
        (100, 128, 16, "ifim-sensitive", 0.99),
        (100, 128, 16, "ifim-sensitive", None),
        (3, 128, 16, "naive", None),
        (2, 128, 16, "ifim-sensitive", None),
    } <= targets
    assert all(c.class_mass is None for c in cells if c.method != "ifim-sensitive")
    raised, skipped_raised = plan_cells(PlanOptions(suites=("grid",), max_side={"scorecam": 4096}))
    assert not any(r.method == "scorecam" for r in skipped_raised)
    assert any(c.method == "scorecam" and c.side == 1024 for c in raised)


def test_plan_filters_apply_to_every_suite():
    cells, _ = plan_cells(
        PlanOptions(models=("shallow-cnn",), classes=(3,), methods=("ifim-sensitive",))
    )
    assert {(c.model, c.num_classes) for c in cells} == {("shallow-cnn", 3)}
    assert {c.method for c in cells} == {"ifim-sensitive", "saliency"}
    with pytest.raises(ValueError, match="expected methods"):
        plan_cells(PlanOptions(methods=("lime-rbf",)))


def test_time_calls_repeats_within_the_budget():
    calls = []
    assert len(time_calls(lambda: calls.append(1), warmup=2, repeats=4, budget_s=1e9)) == 4
    assert len(calls) == 6
    assert len(time_calls(lambda: None, warmup=0, repeats=4, budget_s=0.0)) == 1
    assert len(time_calls(lambda: None, warmup=1, repeats=4, budget_s=0.0)) == 1


def test_csv_round_trip(tmp_path: Path):
    rows = [
        _row("ifim-sensitive", 0.25, backward_passes=1, rss_peak_mib=100.5, class_mass=0.9),
        _row("scorecam", 0.0, status="skipped", reason="side 1024 > cap 64"),
    ]
    rows[1].median_s = None
    path = write_rows(rows, tmp_path / "speed.csv")
    assert read_rows(path) == rows


# ---------------------------------------------------------------- end to end


def test_quick_run_end_to_end(tmp_path: Path):
    code = main(
        ["--quick", "--classes", "3", "--threads", "1", "--output", str(tmp_path), "--no-progress"]
    )
    assert code == 0
    header = (tmp_path / "speed.csv").read_text().splitlines()[0].split(",")
    assert tuple(header) == COLUMNS
    rows = read_rows(tmp_path / "speed.csv")
    assert {r.method for r in rows} == set(METHODS)
    assert {r.side for r in rows} == {16, 32} and all(r.status == "ok" for r in rows)
    for r in rows:
        assert r.median_s is not None and r.median_s > 0 and r.repeats_done == 1
        assert r.rss_peak_mib is not None and r.rss_peak_mib >= r.rss_before_mib > 0
        saliency = next(s for s in rows if s.method == "saliency" and s.side == r.side)
        assert r.weights_checksum == saliency.weights_checksum
        assert r.inputs_checksum == saliency.inputs_checksum
        assert math.isclose(r.ratio_to_saliency, r.median_s / saliency.median_s)
    passes = {r.method: r.backward_passes for r in rows}
    assert passes == {
        "saliency": 1,
        "ifim-sensitive": 2,
        "naive": 2 * 3,
        "gradcam": 1,
        "scorecam": 0,
        "deepshap": 1,  # the batch's inputs in one pass (issue 26)
    }
    for name in ("cost_vs_pixels.png", "cost_vs_classes.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (tmp_path / "summary.md").read_text()
    assert "## Targets on cpu" in summary and "time linear in pixels, shallow-cnn" in summary


def test_command_line_options():
    quick = options_from_args(parser().parse_args(["--quick", "--classes", "3"]))
    assert (quick.threads, quick.suites, quick.classes, quick.models) == (
        1,
        ("grid",),
        (3,),
        ("shallow-cnn",),
    )
    full = options_from_args(
        parser().parse_args(["--suite", "targets", "--max-side", "scorecam=512", "--threads", "2"])
    )
    assert full.suites == ("targets",) and full.max_side == {"scorecam": 512}
    assert full.threads == 2 and full.classes is None and full.repeats == 5
    with pytest.raises(SystemExit):
        parser().parse_args(["--max-side", "lime-rbf=64"])


# ---------------------------------------------------------------- the registry's names


def test_the_benchmark_names_methods_as_the_registry_does():
    """Every timed method but the naive loop (no registered method) is a registry name, and
    a registry method is built under its own name (no map between two spellings)."""
    assert set(METHODS) - {NAIVE} <= set(available_methods())
    assert set(GRID_METHODS) <= set(METHODS) and set(ZOO_METHODS) <= set(METHODS)
    assert NAIVE not in available_methods()
    model = _shallow(3)
    x = torch.randn(2, 1, 16, 16)
    targets = torch.tensor([0, 2])
    for method in sorted(set(METHODS) - {NAIVE, "deepshap"}):
        expected = build_method(method, model).attribute(x, target=targets)
        got = method_call(method, model, x, targets, torch.zeros(2, 1, 16, 16))()
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    restricted = method_call("ifim-sensitive", model, x, targets, x, class_mass=0.5)()
    expected = build_method("ifim-sensitive", model, class_mass=0.5).attribute(x)
    torch.testing.assert_close(restricted, expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="expected a method among"):
        method_call("ifim", model, x, targets, x)
    with pytest.raises(ValueError, match="class_mass"):
        method_call("gradcam", model, x, targets, x, class_mass=0.5)
    assert parser().parse_args(["--methods", "ifim-sensitive"]).methods == ["ifim-sensitive"]
    with pytest.raises(SystemExit):
        parser().parse_args(["--methods", "ifim"])


def test_the_summary_names_the_restricted_ifim_by_its_option():
    rows = [
        _row("saliency", 0.1, c=100),
        _row("ifim-sensitive", 5.0, c=100, backward_passes=99),
        _row("ifim-sensitive", 2.0, c=100, backward_passes=32, class_mass=0.99),
    ]
    summary = summary_markdown(rows, check_targets(rows), {})
    assert "| ifim-sensitive class_mass=0.99 |" in summary
    assert "| ifim-sensitive |" in summary and "ifim-mass" not in summary


@pytest.mark.parametrize("name", ["speed.csv", "speed_zoo.csv"])
def test_csvs_written_before_the_registry_names_read_with_them(name: str):
    """The measured CSVs in docs/performance_figures/ name the iFIM ``ifim`` and
    ``ifim-mass``; read back, they carry the registry's name and check as before."""
    path = Path(__file__).parents[1] / "docs" / "performance_figures" / name
    assert ",ifim," in path.read_text()
    rows = read_rows(path)
    assert {r.method for r in rows} <= set(METHODS)
    assert any(r.method == "ifim-sensitive" for r in rows)
    if name == "speed.csv":
        restricted = [r for r in rows if r.class_mass is not None]
        assert restricted and {r.method for r in restricted} == {"ifim-sensitive"}
        statuses = _statuses(rows)
        assert statuses["C=100 class_mass"] == ["PASS"]
        assert statuses["C=100 class_mass, logits x4"] == ["PASS"]
        assert statuses["memory at 1024"] == ["PASS"]


# ---------------------------------------------------------------- speed-ups (issue 26)


def test_the_floor_target_judges_passes_of_at_least_its_minimum_and_reports_smaller_ones():
    from comparisons.speed._speedups import IFIM_TARGET_MIN_FLOOR_S, SpeedupRow, check_speedups

    def cell(model: str, floor_s: float, ratio: float) -> list[SpeedupRow]:
        common = ("ifim", model, 2, 32, 4, 0, "cpu", 1)
        return [
            SpeedupRow(*common, "floor", "floor", "ok", rounds=3, median_s=floor_s, ratio=1.0),
            SpeedupRow(
                *common, "ifim-auto", "floor", "ok", rounds=3, median_s=floor_s * ratio,
                ratio=ratio,
            ),
        ]  # fmt: skip

    large = 2 * IFIM_TARGET_MIN_FLOOR_S
    rows = cell("big-pass", large, 1.04) + cell("bigger-cost", large, 1.06)
    rows += cell("tiny-pass", 0.002, 1.6)
    checks = {c.name: c for c in check_speedups(rows)}
    assert checks["iFIM / floor C=2 big-pass"].status == "PASS"
    assert checks["iFIM / floor C=2 bigger-cost"].status == "FAIL"
    tiny = checks["iFIM / floor C=2 tiny-pass"]
    assert tiny.status == "NO TARGET" and "a 2.0 ms floor, 1.20 ms a call over it" in tiny.measured


def test_speedup_cells_time_variants_interleaved_and_compare_outputs(tmp_path: Path):
    from comparisons.speed._speedups import (
        DEFAULT_SPEEDUPS,
        IFIM_TARGET_MIN_FLOOR_S,
        SpeedupCell,
        check_speedups,
        measure_speedup,
        plan_speedups,
        speedup_table,
        write_speedup_rows,
    )

    assert plan_speedups(("grid",), None, None, None) == []
    planned = plan_speedups(("targets",), ("shallow-cnn",), None, None, threads=1)
    assert {c.comparison for c in planned} == {"ifim", "scorecam", "deepshap"}
    assert len(plan_speedups(("speedups",), None, None, None)) == len(DEFAULT_SPEEDUPS)
    settings = {"threads": 1, "repeats": 2, "warmup": 1, "cell_budget_s": 60.0}
    cells = [
        SpeedupCell("ifim", "shallow-cnn", 3, 16, 2, **settings),
        SpeedupCell("scorecam", "shallow-cnn", 3, 16, 2, **settings),
        SpeedupCell("deepshap", "shallow-cnn", 3, 16, 2, background=2, **settings),
    ]
    rows = [row for cell in cells for row in measure_speedup(cell)]
    assert all(r.status == "ok" and r.rounds == 2 and r.median_s > 0 for r in rows), rows
    variants = {(r.comparison, r.variant): r for r in rows}
    assert set(variants) == {
        ("ifim", "floor"),
        ("ifim", "floor-batched"),
        ("ifim", "ifim-auto"),
        ("ifim", "ifim-sequential"),
        ("ifim", "ifim-batched"),
        ("scorecam", "pytorch-grad-cam"),
        ("scorecam", "ours"),
        ("scorecam", "ours-bfloat16"),
        ("deepshap", "shap"),
        ("deepshap", "shap-top-output"),
        ("deepshap", "ours"),
    }
    for key in (("ifim", "floor"), ("scorecam", "pytorch-grad-cam"), ("deepshap", "shap")):
        assert variants[key].ratio == 1.0
    for key in (("ifim", "ifim-batched"), ("scorecam", "ours"), ("deepshap", "ours")):
        assert variants[key].difference is not None and variants[key].difference < 1e-5
    assert variants[("ifim", "floor")].backward_passes == 2
    assert variants[("ifim", "ifim-batched")].backward_passes == 2
    assert variants[("deepshap", "shap")].backward_passes == 2 * 3  # every output
    assert variants[("deepshap", "ours")].backward_passes == 1
    assert 0 < variants[("scorecam", "ours")].rows_forwarded <= 2 * 64
    # Opt-in and not exact: reported beside the exact path, with its rounding, no target.
    bfloat16 = variants[("scorecam", "ours-bfloat16")]
    assert bfloat16.rows_forwarded == variants[("scorecam", "ours")].rows_forwarded
    assert bfloat16.difference is not None and bfloat16.difference < 0.1
    checks = {c.name: c for c in check_speedups(rows)}
    assert set(checks) == {
        "iFIM / floor C=3 shallow-cnn",
        "Score-CAM / pytorch-grad-cam shallow-cnn 16px",
        "DeepSHAP / shap shallow-cnn C=3",
    }
    assert all(c.status in ("PASS", "FAIL", "NO TARGET") for c in checks.values())
    # A floor of a few ms: the iFIM's fixed cost per call is reported, not judged.
    floor = variants[("ifim", "floor")]
    assert floor.median_s is not None and floor.median_s < IFIM_TARGET_MIN_FLOOR_S
    assert checks["iFIM / floor C=3 shallow-cnn"].status == "NO TARGET"
    assert "ms floor" in checks["iFIM / floor C=3 shallow-cnn"].measured
    text = "\n".join(speedup_table(rows))
    assert "| scorecam | shallow-cnn | 3 | 16 | 2 | ours |" in text
    header = write_speedup_rows(rows, tmp_path / "speedups.csv").read_text().splitlines()[0]
    assert header.startswith("comparison,model,num_classes")
