"""The harness fails early, never gets stuck and never does work twice (issue 16).

Each test reproduces one failure first: a bad value found only after training, a folder
refused after a typo, a device, a read-only folder or cache, a full disk, truncated files,
two processes on one folder or one cache, a SIGKILL, a report cut short by a full disk.

The tests run as root here, where ``chmod`` does not stop writes: a read-only folder is
simulated by making ``os.open`` and ``os.mkdir`` refuse its paths with ``EACCES`` (what the
kernel answers for a read-only folder), and a full disk by a write that stops half-way with
``ENOSPC``, both through the real atomic writer.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import comparisons._atomic as atomic_module
import comparisons.run._runner as runner_module
import comparisons.training._train_model as train_module
from comparisons._cli import main
from comparisons._environment import processor_name
from comparisons._exit_codes import ExitCode
from comparisons.config import dumps_toml as dumps
from comparisons.config import parse_config
from comparisons.reporting import write_report
from comparisons.run import run
from comparisons.run_folder import RunFolder, quarantined_files
from comparisons.run_folder._per_example import read_per_example

SMALL = {
    "run": {
        "name": "small",
        "seeds": [0],
        "eval_examples": 4,
        "batch_size": 4,
        "figure_examples": 2,
        "background_examples": 4,
        "num_threads": 1,
    },
    "datasets": [
        {
            "name": "mni-sks",
            "options": {"num_train": 24, "num_val": 8, "num_test": 8, "image_size": 16},
        }
    ],
    "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}}],
    "methods": {"names": ["saliency", "gradcam"]},
    "metrics": {
        "names": ["deletion-auc", "energy-in-mask"],
        "options": {"deletion-auc": {"steps": 4}},
    },
}
GROUP = "mni-sks__shallow-cnn__seed0"
CELLS = [f"{GROUP}__saliency", f"{GROUP}__gradcam"]


def small(**run_overrides):
    data = copy.deepcopy(SMALL)
    data["run"].update(run_overrides)
    return data


def comparable(rows):
    """Rows without the timings (every other value is reproduced exactly)."""
    return sorted(
        (r.dataset, r.model, r.seed, r.method, r.metric, r.setting, r.n)
        + (("nan",) if math.isnan(r.value) else (round(r.value, 10),))
        for r in rows
        if not r.metric.endswith("seconds") and r.metric != "seconds-per-image"
    )


def write_toml(path: Path, data: dict) -> Path:
    path.write_text(dumps(parse_config(data).to_dict()))
    return path


def count_cells(monkeypatch) -> list[str]:
    """Record the key of every cell the runner computes."""
    real = runner_module.run_cell
    calls: list[str] = []

    def counted(*args, **kwargs):
        calls.append(args[1].key)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_cell", counted)
    return calls


def refuse_paths(monkeypatch, folder: Path, error: int = errno.EACCES) -> None:
    """``folder`` acts as read-only: creating anything under it fails as the kernel would."""
    real_open, real_mkdir = os.open, os.mkdir
    prefix = str(folder)

    def inside(path) -> bool:
        return str(path).startswith(prefix)

    def guarded_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(error, os.strerror(error), str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path):
            raise OSError(error, os.strerror(error), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


def fill_disk_at(monkeypatch, matches) -> list[Path]:
    """Writes of a path for which ``matches(path)`` stop half-way with ``ENOSPC``."""
    real = atomic_module._write_atomically
    hit: list[Path] = []

    def write(path, writer):
        if not matches(Path(path)):
            return real(path, writer)
        hit.append(Path(path))

        def half_then_full(stream):  # as os.write fails: no file name in the error
            stream.write(b"\x00" * 16)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return real(path, half_then_full)

    monkeypatch.setattr(atomic_module, "_write_atomically", write)
    return hit


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One finished run of SMALL, started with torch at 2 threads (the config says 1)."""
    root = tmp_path_factory.mktemp("robustness")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        folder = run(parse_config(small()), root / "reference", cache_dir=root / "cache")
    finally:
        torch.set_num_threads(threads)
    folder.write_tables()
    return folder, root / "cache"


@pytest.fixture
def copied(reference, tmp_path):
    folder, cache = reference
    shutil.copytree(folder.path, tmp_path / "run")
    return RunFolder(tmp_path / "run"), cache


# --- validation at load -------------------------------------------------------------------


def test_environment_records_the_threads_the_run_used(reference):
    folder, _ = reference
    assert folder.failed == [] and folder.count_cells() == 2
    environment = json.loads(folder.layout.environment.read_text())
    assert environment["torch_threads"] == 1  # was 2: written before set_num_threads


def test_environment_records_the_processor_cores_and_load(reference):
    folder, _ = reference
    environment = json.loads(folder.layout.environment.read_text())
    assert environment["processor"] == processor_name() and environment["processor"]
    assert environment["logical_cores"] == os.cpu_count()
    load = environment["load_average_at_start"]
    assert load is None or (len(load) == 3 and all(value >= 0 for value in load))


@pytest.mark.parametrize(
    ("section", "name", "options", "match"),
    [
        ("metrics", "deletion-auc", {"steps": -3}, "deletion-auc.*steps.*-3"),
        ("metrics", "energy-in-mask", {"magnitude": "sq"}, "magnitude.*'sq'"),
        ("metrics", "contrastive-perturbation", {"fractions": [0.01, 1.5]}, "fractions"),
        ("metrics", "infidelity", {"max_examples": 0}, "max_examples"),
        ("metrics", "adversarial-correlation", {"epsilon_relative": -0.1}, "epsilon_relative"),
        ("metrics", "kl-fidelity", {"methods": ["ifim"]}, "'ifim'"),
        ("methods", "ifim-sensitive", {"energy": 1.5}, "1.5"),
    ],
)
def test_bad_option_values_fail_when_the_config_loads(section, name, options, match):
    data = small()
    data[section]["names"] = list(dict.fromkeys([*data[section]["names"], name]))
    data[section]["options"] = {name: options}
    with pytest.raises(ValueError, match=match):
        parse_config(data)


def _second_dataset(data, **options):
    entry = {"name": "mni-sks-3class", "options": {"num_train": 24, "image_size": 16, **options}}
    data["datasets"].append(entry)
    return data


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: _second_dataset(d, wm_threshold=1.5), "mni-sks-3class.*wm_threshold"),
        (lambda d: _second_dataset(d, image_size=4), "mni-sks-3class.*image_size"),
        (lambda d: _second_dataset(d, num_trian=3), "num_trian"),
        (
            lambda d: d["models"].append({"name": "resnet18", "options": {"stem": "big"}}),
            "resnet18.*stem",
        ),
        (
            lambda d: d["models"].append({"name": "vgg16", "options": {"head": "huge"}}),
            "vgg16.*head",
        ),
    ],
)
def test_a_bad_second_dataset_or_model_fails_before_anything_trains(
    change, match, tmp_path, monkeypatch
):
    trained = []
    monkeypatch.setattr(train_module, "fit", lambda *a, **k: trained.append(1) / 0)
    data = small()
    change(data)
    with pytest.raises(ValueError, match=match):
        run(parse_config(data), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert trained == [] and not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_check_prints_the_plan_and_writes_nothing(copied, tmp_path, capsys):
    folder, _ = copied
    config = write_toml(tmp_path / "small.toml", small())
    fresh = tmp_path / "fresh"
    assert (
        main(["run", "--no-estimate", "--check", "--config", str(config), "--output", str(fresh)])
        == 0
    )
    plan = capsys.readouterr().out
    assert f"{GROUP}: model to train or load, 0/2 cells done" in plan
    assert "2 to run" in plan and "new" in plan and "optimizer steps" in plan
    assert not fresh.exists()

    folder.layout.cell(CELLS[1]).unlink()
    before = sorted(p.relative_to(folder.path) for p in folder.path.rglob("*"))
    assert (
        main(
            [
                "run",
                "--no-estimate",
                "--check",
                "--config",
                str(config),
                "--output",
                str(folder.path),
            ]
        )
        == 0
    )
    plan = capsys.readouterr().out
    assert "resumes this config" in plan and "1/2 cells done" in plan
    assert sorted(p.relative_to(folder.path) for p in folder.path.rglob("*")) == before

    path = tmp_path / "bad.toml"
    path.write_text(config.read_text().replace("steps = 4", "steps = 0"))
    assert main(["run", "--check", "--config", str(path), "--output", str(fresh)]) == 2


# --- a folder where nothing finished is reused; one with finished cells is not -------------


def test_a_folder_where_nothing_finished_takes_the_corrected_config(tmp_path, reference):
    _, cache = reference
    typo = parse_config(small(eval_examples=3))
    folder = RunFolder.create(tmp_path / "run", typo)  # the first run stopped here
    folder.record_failure(CELLS[0], RuntimeError("out of memory"))
    fixed = parse_config(small())
    run(fixed, tmp_path / "run", cache_dir=cache)
    assert folder.fingerprint() == fixed.fingerprint() and folder.count_cells() == 2
    assert folder.failed == []
    environment = json.loads(folder.layout.environment.read_text())
    assert environment["reconfigured"][0]["from"] == typo.fingerprint()
    assert environment["reconfigured"][0]["to"] == fixed.fingerprint()
    kept = sorted(q.original for q in quarantined_files(folder.layout))  # nothing is lost
    assert kept == ["config.json", "config.toml", f"failed/{CELLS[0]}.txt"]
    (old,) = [q for q in quarantined_files(folder.layout) if q.original == "config.toml"]
    assert "eval_examples = 3" in (folder.path / old.moved_to).read_text()


def test_a_folder_with_finished_cells_refuses_another_config_naming_both(copied, tmp_path):
    folder, cache = copied
    before = folder.layout.config_json.read_text()
    other = parse_config(small(eval_examples=3))
    with pytest.raises(ValueError, match="another config") as error:
        run(other, folder.path, cache_dir=cache)
    assert folder.fingerprint() in str(error.value) and other.fingerprint() in str(error.value)
    assert folder.layout.config_json.read_text() == before
    assert not folder.layout.quarantine_dir.exists()
    config = write_toml(tmp_path / "other.toml", small(eval_examples=3))
    assert main(["run", "--config", str(config), "--output", str(folder.path)]) == 2


# --- exit codes ------------------------------------------------------------------------------


def test_device_errors_are_one_line_with_their_own_codes(tmp_path, monkeypatch, caplog):
    config = write_toml(tmp_path / "small.toml", small())
    out = tmp_path / "out"
    text = config.read_text().replace('device = "cpu"', 'device = "tpu0"')
    (tmp_path / "tpu.toml").write_text(text)
    assert main(["run", "--config", str(tmp_path / "tpu.toml"), "--output", str(out)]) == 2
    assert "'tpu0'" in caplog.text and "Traceback" not in caplog.text
    assert main(["run", "--config", str(config), "--output", str(out), "--device", "tpu0"]) == 2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    caplog.clear()
    code = main(["run", "--config", str(config), "--output", str(out), "--device", "cuda"])
    assert code == ExitCode.DEVICE_UNAVAILABLE == 3
    assert "CUDA is not available" in caplog.text and "Traceback" not in caplog.text
    assert not out.exists()


def test_a_read_only_output_folder_exits_4_in_one_line(tmp_path, monkeypatch, caplog, reference):
    _, cache = reference
    config = write_toml(tmp_path / "small.toml", small())
    out = tmp_path / "readonly"
    out.mkdir()
    refuse_paths(monkeypatch, out)
    code = main(
        [
            "run",
            "--no-estimate",
            "--config",
            str(config),
            "--output",
            str(out),
            "--cache-dir",
            str(cache),
        ]
    )
    assert code == ExitCode.NOT_WRITABLE == 4
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cannot write" in errors[0].getMessage()
    assert str(out) in errors[0].getMessage() and "Traceback" not in caplog.text
    assert list(out.iterdir()) == []


def test_a_read_only_cache_keeps_the_trained_models_and_warns_once(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    refuse_paths(monkeypatch, cache)
    monkeypatch.setattr(train_module, "_UNWRITABLE_CACHES", set())
    with pytest.warns(RuntimeWarning, match="cannot be written") as warned:
        folder = run(parse_config(small(seeds=[0, 1])), tmp_path / "run", cache_dir=cache)
    assert len([w for w in warned if str(cache) in str(w.message)]) == 1  # two models, once
    assert folder.failed == [] and folder.count_cells() == 4
    for path in folder.layout.models_dir.glob("*.json"):
        assert json.loads(path.read_text())["training"]["from_cache"] is False
    assert list(cache.iterdir()) == []


def test_a_full_disk_while_writing_a_cell_fails_only_that_cell(copied, monkeypatch, caplog):
    folder, cache = copied
    for key in CELLS:
        folder.layout.cell(key).unlink()
    hit = fill_disk_at(monkeypatch, lambda p: p.name == f"{CELLS[1]}.json")
    config = folder.path / "config.toml"
    code = main(
        [
            "run",
            "--no-estimate",
            "--config",
            str(config),
            "--output",
            str(folder.path),
            "--shard",
            "1/1",
        ]
    )
    assert code == ExitCode.CELLS_FAILED == 1 and hit
    assert folder.failed == [CELLS[1]] and folder.has_cell(CELLS[0])
    assert "not written, retried on the next run" in caplog.text
    assert f"disk full while writing {folder.layout.cell(CELLS[1])}" in caplog.text
    assert not list(folder.path.rglob("*.tmp")) and not folder.has_cell(CELLS[1])

    monkeypatch.undo()
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache)
    assert calls == [CELLS[1]] and folder.failed == []


def test_a_full_disk_outside_a_cell_exits_4_in_one_line(tmp_path, monkeypatch, caplog, reference):
    _, cache = reference
    config = write_toml(tmp_path / "small.toml", small())
    fill_disk_at(monkeypatch, lambda p: p.parent.name == "models")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--no-estimate",
            "--config",
            str(config),
            "--output",
            str(out),
            "--cache-dir",
            str(cache),
        ]
    )
    assert code == ExitCode.NOT_WRITABLE == 4
    assert f"disk full while writing {out / 'models' / GROUP}.json" in caplog.text
    assert "Traceback" not in caplog.text and not list(out.rglob("*.tmp"))


def test_report_refuses_a_folder_that_is_not_a_run_and_leaves_nothing(tmp_path):
    assert main(["report", str(tmp_path / "nonexistent")]) == 2
    assert not (tmp_path / "nonexistent").exists()
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert list((tmp_path / "empty").iterdir()) == []


# --- a run folder never gets stuck -----------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_cell_is_moved_aside_named_by_the_report_and_recomputed(
    copied, reference, monkeypatch
):
    folder, cache = copied
    _truncate(folder.layout.cell(CELLS[0]))
    assert main(["report", str(folder.path)]) == 0  # was: a JSON error naming no file
    report = (folder.path / "report.md").read_text()
    assert f"Skipped `cells/{CELLS[0]}.json`: not valid JSON" in report
    (moved,) = quarantined_files(folder.layout)
    assert moved.original == f"cells/{CELLS[0]}.json"
    assert (folder.path / moved.moved_to).is_file() and not folder.has_cell(CELLS[0])
    rows = json.loads(folder.layout.results_json.read_text())
    assert {r["method"] for r in rows} == {"", "gradcam"}

    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache)
    assert calls == [CELLS[0]]
    assert comparable(folder.rows()) == comparable(reference[0].rows())
    write_report(folder.path)
    assert "Skipped" not in (folder.path / "report.md").read_text()


def test_truncated_examples_and_model_files_are_recomputed(copied, reference, monkeypatch):
    folder, cache = copied
    _truncate(folder.layout.examples(CELLS[1]))
    _truncate(folder.layout.model(GROUP))
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache)  # was: an OSError naming no file
    assert calls == [CELLS[1]]
    originals = sorted(q.original for q in quarantined_files(folder.layout))
    assert originals == [
        f"cells/{CELLS[1]}.json",
        f"examples/{CELLS[1]}.pt",
        f"models/{GROUP}.json",
    ]
    reasons = {q.original: q.reason for q in quarantined_files(folder.layout)}
    assert "examples file" in reasons[f"cells/{CELLS[1]}.json"]
    assert json.loads(folder.layout.model(GROUP).read_text())["training"]["from_cache"] is True
    assert comparable(folder.rows()) == comparable(reference[0].rows())
    assert folder.load_examples(CELLS[1])["maps"].shape[0] == 2


def test_a_truncated_per_example_file_is_moved_aside_with_its_cell_and_recomputed(
    copied, reference, monkeypatch
):
    folder, cache = copied
    _truncate(folder.layout.per_example(CELLS[0]))
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache)  # was: kept, the statistics lost it
    assert calls == [CELLS[0]]
    reasons = {q.original: q.reason for q in quarantined_files(folder.layout)}
    assert sorted(reasons) == [f"cells/{CELLS[0]}.json", f"per_example/{CELLS[0]}.csv.gz"]
    assert "per-example file" in reasons[f"cells/{CELLS[0]}.json"]
    assert comparable(folder.rows()) == comparable(reference[0].rows())
    tables = [read_per_example(f.layout.per_example(CELLS[0])) for f in (reference[0], folder)]
    untimed = [t[~t["metric"].str.contains("seconds")].reset_index(drop=True) for t in tables]
    assert len(untimed[0]) > 0 and untimed[1].equals(untimed[0])


def test_reading_rows_never_fails_on_one_bad_file(copied, reference):
    folder, _ = copied
    good = comparable(reference[0].rows())
    bad = {
        "a__b__seed0__c.json": b"[]",
        "a__b__seed0__d.json": b'{"rows": [{"dataset": 1}]}',
        "a__b__seed0__e.json": b"\x00\xff\xfe",
        "a__b__seed0__f.json": b'{"rows": 5}',
    }
    for name, content in bad.items():
        (folder.layout.cells_dir / name).write_bytes(content)
    assert comparable(folder.rows()) == good
    assert sorted(Path(q.original).name for q in quarantined_files(folder.layout)) == sorted(bad)


def test_a_cell_file_holding_another_cells_rows_is_moved_aside_and_recomputed(
    copied,
    reference,
    monkeypatch,
):
    folder, cache = copied
    other = folder.layout.cell(CELLS[1]).read_bytes()
    folder.layout.cell(CELLS[0]).write_bytes(other)
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache, progress=False)
    assert calls == [CELLS[0]]
    reasons = {q.original: q.reason for q in quarantined_files(folder.layout)}
    assert "rows of another cell" in reasons[f"cells/{CELLS[0]}.json"]
    assert comparable(folder.rows()) == comparable(reference[0].rows())


def test_garbage_methods_and_environment_files_are_moved_aside_and_rewritten(
    copied,
    reference,
    monkeypatch,
):
    folder, cache = copied
    folder.layout.methods.write_bytes(b"\x00garbage")
    folder.layout.environment.write_text("[1, 2")
    calls = count_cells(monkeypatch)
    assert main(["report", str(folder.path)]) == 0
    run(folder.config(), folder.path, cache_dir=cache, progress=False)
    assert calls == []
    originals = sorted(q.original for q in quarantined_files(folder.layout))
    assert originals == ["environment.json", "methods.json"]
    methods = json.loads(folder.layout.methods.read_text())
    assert sorted(methods) == ["gradcam", "saliency"]
    assert isinstance(json.loads(folder.layout.environment.read_text()), dict)
    assert main(["report", str(folder.path)]) == 0


def test_a_truncated_config_json_beside_its_config_toml_resumes_without_losing_cells(
    copied,
    monkeypatch,
):
    folder, cache = copied
    text = folder.layout.config_json.read_bytes()
    folder.layout.config_json.write_bytes(text[: len(text) // 2])
    calls = count_cells(monkeypatch)
    code = main(
        [
            "run",
            "--config",
            str(folder.layout.config_toml),
            "--output",
            str(folder.path),
            "--cache-dir",
            str(cache),
            "--no-progress",
        ]
    )
    assert code == 0 and calls == []
    assert json.loads(folder.layout.config_json.read_text())["fingerprint"]
    assert [q.original for q in quarantined_files(folder.layout)] == ["config.json"]
    assert folder.has_cell(CELLS[0]) and folder.has_model(GROUP)


def test_a_deleted_maps_file_is_noticed_and_its_cell_recomputed(copied, reference, monkeypatch):
    folder, cache = copied
    folder.layout.maps(CELLS[0]).unlink()
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=cache, progress=False)
    assert calls == [CELLS[0]]  # was []: the cell counted as done without its maps
    reasons = {q.original: q.reason for q in quarantined_files(folder.layout)}
    assert "maps file" in reasons[f"cells/{CELLS[0]}.json"]
    assert folder.layout.maps(CELLS[0]).is_file()
    assert comparable(folder.rows()) == comparable(reference[0].rows())


def test_a_cell_that_cannot_be_moved_aside_is_kept_and_the_run_stops(copied, caplog):
    folder, cache = copied
    _truncate(folder.layout.cell(CELLS[0]))
    damaged = folder.layout.cell(CELLS[0]).read_bytes()
    shutil.rmtree(folder.layout.quarantine_dir, ignore_errors=True)
    folder.layout.quarantine_dir.write_text("a file where the quarantine folder goes")
    config = write_toml(folder.path.parent / "small.toml", small())
    arguments = ["run", "--no-estimate", "--config", str(config), "--output", str(folder.path)]
    code = main([*arguments, "--cache-dir", str(cache), "--no-progress"])
    assert code == 2  # a file where a folder goes (exit 4 for a read-only folder); was 0
    assert folder.layout.cell(CELLS[0]).read_bytes() == damaged
    assert "quarantine" in caplog.text and "nothing was overwritten" in caplog.text


# --- atomic reports --------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["report.md", "first figure"])
def test_a_full_disk_during_the_report_leaves_the_previous_files(copied, monkeypatch, failing):
    folder, _ = copied
    write_report(folder.path)
    written = sorted(
        [folder.path / n for n in ("summary.md", "summary.csv", "report.md")]
        + list((folder.path / "figures").glob("*.png"))
    )
    assert len(written) >= 5
    before = {p: p.read_bytes() for p in written}
    target = folder.path / "report.md" if failing == "report.md" else written[0]
    assert target.suffix in (".md", ".png")
    fill_disk_at(monkeypatch, lambda p: p == target)
    with pytest.raises(OSError, match="No space"):
        write_report(folder.path)
    assert {p: p.read_bytes() for p in written} == before
    assert not list(folder.path.rglob("*.tmp"))
    assert main(["report", str(folder.path)]) == ExitCode.NOT_WRITABLE


# --- two processes: the run-folder lock, the cache lock, a SIGKILL -------------------------

_WORKER = """
import os, pathlib, sys, time
state = pathlib.Path(os.environ["ROBUSTNESS_STATE"])
import comparisons.run._runner as runner
import comparisons.training._train_model as train_module

real_fit = train_module.fit
def fit(*args, **kwargs):  # training waits until the test releases it
    (state / f"training-{os.getpid()}").touch()
    while not (state / "release").exists():
        time.sleep(0.05)
    return real_fit(*args, **kwargs)
train_module.fit = fit

if "ROBUSTNESS_HANG_AFTER" in os.environ:
    real_cell, done = runner.run_cell, []
    def run_cell(*args, **kwargs):  # hangs (to be killed) after some cells
        if len(done) == int(os.environ["ROBUSTNESS_HANG_AFTER"]):
            (state / f"hung-{os.getpid()}").touch()
            time.sleep(600)
        done.append(1)
        return real_cell(*args, **kwargs)
    runner.run_cell = run_cell

from comparisons._cli import main
sys.exit(main(sys.argv[1:]))
"""


def _wait_for(condition, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def concurrent(tmp_path_factory):
    """Process A runs into X and hangs after one cell; C runs into Y with the same cache, at
    the same time; B starts into X while A holds it. One of A and C trains the model (the
    test holds its training until the other waits on the cache lock); then A is SIGKILLed."""
    root = tmp_path_factory.mktemp("concurrent")
    state = root / "state"
    state.mkdir()
    worker = root / "worker.py"
    worker.write_text(_WORKER)
    config = write_toml(root / "small.toml", small())
    cache = root / "cache"
    common = ["--config", str(config), "--cache-dir", str(cache), "--no-progress"]
    env = {**os.environ, "ROBUSTNESS_STATE": str(state)}

    def start(name: str, output: Path, *extra: str, **more_env: str) -> subprocess.Popen:
        log = (root / f"{name}.log").open("w")
        command = [sys.executable, str(worker), "run", *common, "--output", str(output), *extra]
        return subprocess.Popen(
            command, cwd=root, env={**env, **more_env}, stdout=log, stderr=subprocess.STDOUT
        )

    def log(name: str) -> str:
        return (root / f"{name}.log").read_text()

    x, y = root / "x", root / "y"
    a = start("a", x, ROBUSTNESS_HANG_AFTER="1")
    c = start("c", y, "--shard", "1/1")
    b = None
    try:
        holder = x / "lock-holder.json"
        _wait_for(lambda: holder.is_file() and f'"pid": {a.pid}' in holder.read_text(), "A")
        b = start("b", x)  # exits at once (A holds X) while A and C go on
        _wait_for(lambda: len(list(state.glob("training-*"))) == 1, "one process training")
        _wait_for(lambda: "waiting for another process" in log("a") + log("c"), "the other")
        (state / "release").touch()
        _wait_for(lambda: (state / f"hung-{a.pid}").exists(), "A after its first cell")
        c_code = c.wait(timeout=240)
        b_code = b.wait(timeout=240)
        a.send_signal(signal.SIGKILL)
        a_code = a.wait(timeout=60)
    finally:
        for process in (a, c, b):
            if process is not None and process.poll() is None:
                process.kill()
    return {
        "x": x,
        "y": y,
        "cache": cache,
        "codes": {"a": a_code, "b": b_code, "c": c_code},
        "logs": {name: log(name) for name in "abc"},
        "pids": {"a": a.pid, "c": c.pid},
        "trained": [p.name.split("-")[1] for p in state.glob("training-*")],
    }


def test_a_second_run_into_a_running_folder_exits_5_naming_the_holder(concurrent):
    assert concurrent["codes"]["b"] == ExitCode.LOCKED == 5
    b_log = concurrent["logs"]["b"]
    assert f"locked by another run: pid {concurrent['pids']['a']} on host" in b_log
    assert "Traceback" not in b_log and "loading dataset" not in b_log


def test_two_runs_sharing_a_cache_train_the_model_once(concurrent):
    assert concurrent["codes"]["c"] == 0 and len(concurrent["trained"]) == 1
    records = [
        json.loads(RunFolder(concurrent[name]).layout.model(GROUP).read_text())["training"]
        for name in ("x", "y")
    ]
    assert sorted(r["from_cache"] for r in records) == [False, True]
    assert records[0]["cache_key"] == records[1]["cache_key"]
    assert len(list(concurrent["cache"].glob("*.pt"))) == 1


def test_a_sigkilled_run_frees_its_folder_and_resumes_to_the_same_rows(concurrent, monkeypatch):
    assert concurrent["codes"]["a"] == -signal.SIGKILL
    folder = RunFolder(concurrent["x"])
    assert folder.count_cells() == 1 and folder.layout.lock_holder.is_file()  # stale holder
    calls = count_cells(monkeypatch)
    run(folder.config(), folder.path, cache_dir=concurrent["cache"])  # the lock is free
    assert len(calls) == 1 and folder.count_cells() == 2
    assert not folder.layout.lock_holder.exists()
    expected = comparable(RunFolder(concurrent["y"]).rows())
    assert comparable(folder.rows()) == expected
    assert dataclasses.asdict(folder.config()) == dataclasses.asdict(
        RunFolder(concurrent["y"]).config()
    )
