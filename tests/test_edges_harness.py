"""A run folder's edges (issue 21, fault injection): names that would write outside it, and
a folder of the user's files given as ``--output``. (One bad file in a run folder: the
tests in test_comparisons_robustness.py.)"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from torch import Tensor

from comparisons import compare
from comparisons._cli import main
from comparisons.config import parse_config
from comparisons.run import run
from tests.test_comparisons_robustness import CELLS, small, write_toml


@pytest.mark.parametrize(
    "label", ["../../../escape-label", "/tmp/absolute", "oct/v2", "a\\b", ".hidden", ""]
)
def test_a_dataset_label_that_is_not_a_plain_name_is_refused_when_the_config_loads(label):
    data = small()
    data["datasets"][0]["options"]["label"] = label
    with pytest.raises(ValueError, match="dataset label"):
        parse_config(data)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ".."])
def test_a_run_name_that_is_not_a_plain_name_is_refused_when_the_config_loads(name):
    with pytest.raises(ValueError, match=r"run\.name"):
        parse_config(small(name=name))


def test_compare_refuses_a_dataset_name_with_a_slash_before_anything_runs(tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    images, labels = torch.rand(8, 1, 8, 8), torch.arange(8) % 2
    with pytest.raises(ValueError, match="dataset label"):
        compare(
            model,
            (images, labels),
            methods=["saliency"],
            metrics=["deletion-auc"],
            dataset_name="oct/v2",
            output=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_an_output_folder_of_user_files_is_refused_and_left_untouched(tmp_path):
    mine = tmp_path / "mine"
    for name, text in {
        "report.md": "my notes",
        "results.csv": "a,b\n1,2\n",
        "cells/important.json": '{"mine": true}',
        "models/mymodel.json": "{}",
        "failed/todo.txt": "buy milk",
    }.items():
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text(text)
    before = _snapshot(mine)
    config = write_toml(tmp_path / "small.toml", small())
    code = main(["run", "--config", str(config), "--output", str(mine), "--no-progress"])
    assert code == 2
    assert _snapshot(mine) == before
    assert sorted(p.name for p in mine.iterdir()) == [
        "cells",
        "failed",
        "models",
        "report.md",
        "results.csv",
    ]


def test_an_empty_output_folder_is_used(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    config = parse_config(small())
    folder = run(config, empty, cache_dir=tmp_path / "cache", progress=False)
    assert folder.has_cell(CELLS[0])


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_an_output_that_is_or_is_under_a_file_is_a_bad_config_naming_it(tmp_path, where, caplog):
    (tmp_path / "file").write_text("mine")
    config = write_toml(tmp_path / "small.toml", small())
    output = tmp_path / where
    code = main(["run", "--config", str(config), "--output", str(output), "--no-progress"])
    assert code == 2  # was 4 for "file" and 2 for "file/sub"
    assert "file" in caplog.text and "Traceback" not in caplog.text
    assert (tmp_path / "file").read_text() == "mine"


def test_a_lock_that_is_a_folder_is_a_clear_error_not_an_unexpected_one(tmp_path, caplog):
    output = tmp_path / "run"
    (output / ".lock").mkdir(parents=True)
    config = write_toml(tmp_path / "small.toml", small())
    code = main(["run", "--config", str(config), "--output", str(output), "--no-progress"])
    assert code == 2  # was 6, with a traceback
    assert ".lock" in caplog.text and "Traceback" not in caplog.text


def _own_config(root: Path, model: dict) -> dict:
    from tests._own_fixtures import write_png_folder

    write_png_folder(root / "images", per_class=4)
    return {
        "run": {"name": "own", "eval_examples": 2, "batch_size": 2, "num_threads": 1},
        "datasets": [{"name": "image-folder", "options": {"root": str(root / "images")}}],
        "models": [model],
        "methods": {"names": ["saliency"]},
        "metrics": {"names": ["deletion-auc"]},
    }


@pytest.mark.parametrize("case", ["missing factory", "pickle without trust_pickle"])
def test_check_builds_every_model_as_the_run_will_and_fails_where_the_run_would(
    tmp_path, case, caplog, capsys
):
    if case == "missing factory":
        model = {"name": "mine", "factory": "no_such_module_for_check:build"}
        expected = "no_such_module_for_check"
    else:
        whole = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(120, 2))
        torch.save(whole, tmp_path / "whole.pt")
        model = {"name": "shallow-cnn", "weights": str(tmp_path / "whole.pt")}
        expected = "trust_pickle"
    config = write_toml(tmp_path / "own.toml", _own_config(tmp_path, model))
    output = tmp_path / "out"
    code = main(
        ["run", "--no-estimate", "--config", str(config), "--output", str(output), "--check"]
    )
    assert code == 2  # was 0, "valid": the run then refused it
    assert expected in caplog.text
    assert "valid" not in capsys.readouterr().out
    assert not output.exists()


def test_a_stopped_cache_holder_ends_the_wait_naming_it_and_how_to_break_it(tmp_path, monkeypatch):
    from comparisons._exit_codes import CacheLockTimeoutError, exit_code_of
    from comparisons.training._checkpoint_cache import CheckpointFiles, entry_lock

    files = CheckpointFiles.at(tmp_path, "entry")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from comparisons.training._checkpoint_cache import CheckpointFiles, entry_lock\n"
            f"with entry_lock(CheckpointFiles.at({str(tmp_path)!r}, 'entry')):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGSTOP)
        monkeypatch.setenv("COMPARISONS_CACHE_WAIT_SECONDS", "1")
        with pytest.raises(CacheLockTimeoutError) as caught:  # was: waited forever
            with entry_lock(files):
                pass
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "STOPPED" in message
        assert f"delete {files.lock}" in message
        assert exit_code_of(caught.value) == 5
    finally:
        holder.kill()
        holder.wait()
    with entry_lock(files) as held:  # the kernel freed the lock with the process
        assert held


def test_a_write_into_a_read_only_folder_names_the_file_not_its_temporary(tmp_path, monkeypatch):
    from comparisons._atomic import write_text

    real = tempfile.mkstemp

    def refuse(*args, **kwargs):  # what the kernel answers in a read-only folder
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".r.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OSError) as caught:
        write_text(tmp_path / "report.md", "x")
    assert caught.value.filename == str(tmp_path / "report.md")  # was the .tmp file
    monkeypatch.setattr(tempfile, "mkstemp", real)


def test_the_evaluated_images_are_stratified_by_class():
    from comparisons.run import evaluation_indices

    labels = torch.tensor([0] * 30 + [1] * 10 + [2] * 20)
    for count in (3, 4, 6, 12, 59):
        chosen = evaluation_indices(labels, count)
        counts = torch.bincount(labels[chosen], minlength=3).tolist()
        assert len(chosen) == count and len(set(chosen.tolist())) == count
        exact = [count * 30 / 60, count * 10 / 60, count * 20 / 60]
        assert all(abs(c - e) < 1 + 1e-9 for c, e in zip(counts, exact, strict=True)), counts
        assert min(counts) >= 1  # was: [4, 0, 0] for count = 4 on this split's order
    order = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    assert torch.equal(evaluation_indices(labels, 60), order)  # the whole split, as before
    chosen = evaluation_indices(labels, 12)
    positions = [order.tolist().index(i) for i in chosen.tolist()]
    assert positions == sorted(positions)  # in the seeded order


def _noise_of(config_data: dict, tmp_path: Path, name: str) -> dict[str, Tensor]:
    """The contrastive noise field every cell of a run gets, by cell key."""
    import comparisons.metrics._contrastive as contrastive

    seen: dict[str, Tensor] = {}
    real = contrastive.contrastive_perturbation_predictions

    @functools.wraps(real)
    def spy(*args, **kwargs):
        seen[f"{len(seen)}"] = (kwargs.get("noise"), kwargs["seed"])
        return real(*args, **kwargs)

    contrastive.contrastive_perturbation_predictions = spy
    try:
        folder = run(parse_config(config_data), tmp_path / name, cache_dir=tmp_path / "cache")
    finally:
        contrastive.contrastive_perturbation_predictions = real
    return seen, folder


def test_results_do_not_depend_on_the_names_of_models_and_datasets(tmp_path):
    from tests.test_comparisons_robustness import comparable

    data = small()
    data["metrics"] = {"names": ["contrastive-perturbation"]}
    renamed = small()
    renamed["metrics"] = {"names": ["contrastive-perturbation"]}
    renamed["datasets"][0]["options"]["label"] = "brains"
    first, folder = _noise_of(data, tmp_path, "a")
    second, other = _noise_of(renamed, tmp_path, "b")
    draws = [*first.values(), *second.values()]
    assert len(draws) == 4 and all(noise is not None for noise, _ in draws)
    assert all(torch.equal(draws[0][0], noise) for noise, _ in draws)  # the same noise
    assert len({seed for _, seed in draws}) == 1  # was: a seed hashed from the names
    strip = [(r[3], r[4], r[5], r[6], r[7]) for r in comparable(folder.rows())]
    same = [(r[3], r[4], r[5], r[6], r[7]) for r in comparable(other.rows())]
    assert strip == same and any(r[1] == "f1-ratio" for r in strip)


def test_an_images_noise_is_its_own_whatever_else_is_evaluated():
    from comparisons.metrics import CellData

    inputs = torch.rand(4, 1, 6, 6)

    def cell(ids: list[int], rows: Tensor) -> CellData:
        return CellData(
            "saliency", None, None, rows, None, None, None, rows, None, None, None,
            noise_seed=7, batch_size=2, adversarial_inputs=None,
            example_ids=torch.tensor(ids),
        )  # fmt: skip

    both = cell([10, 20], inputs[:2]).example_noise(0.0, 1.0)
    alone = cell([20], inputs[1:2]).example_noise(0.0, 1.0)
    assert torch.equal(both[1:], alone) and not torch.equal(both[0], both[1])


# --- the fault-injection pass's findings (tests/fault_injection.py) ----------------------------


def test_a_note_of_the_users_in_failed_is_not_a_failed_cell(tmp_path):
    from comparisons.run_folder import RunFolder

    folder = RunFolder.create(tmp_path / "run", parse_config(small()))
    folder.layout.failed_dir.mkdir(parents=True, exist_ok=True)
    (folder.layout.failed_dir / "todo.txt").write_text("buy milk")
    assert folder.failed == []  # was ['todo'], and every later run exited 1


@pytest.mark.parametrize("content", ["deep", "utf-16"])
def test_a_config_that_is_not_toml_text_is_exit_2_naming_it(tmp_path, content, caplog):
    path = tmp_path / "bad.toml"
    if content == "deep":
        path.write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    else:
        path.write_bytes('[run]\nname = "x"\n'.encode("utf-16"))
    code = main(["run", "--no-estimate", "--config", str(path), "--output", str(tmp_path / "out")])
    assert code == 2  # was 6 (RecursionError) and an error naming no file
    assert "bad.toml" in caplog.text and "Traceback" not in caplog.text


def test_deletion_steps_beyond_the_pixels_are_refused_before_anything_trains(tmp_path):
    data = small()
    data["metrics"] = {"names": ["deletion-auc"], "options": {"deletion-auc": {"steps": 10**9}}}
    with pytest.raises(ValueError, match="steps <= the 256 pixel locations"):  # was: a hang
        run(parse_config(data), tmp_path / "run", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("section", "value", "match"),
    [
        ("seeds", [2**70], r"run\.seeds in \[0, 2\*\*32\)"),
        ("n_steps", 10**9, "n_steps <= 10000"),
    ],
)
def test_values_that_cannot_run_are_refused_when_the_config_loads(section, value, match):
    data = small()
    if section == "seeds":
        data["run"]["seeds"] = value
    else:
        data["methods"] = {
            "names": ["integrated-gradients"],
            "options": {"integrated-gradients": {"n_steps": value}},
        }
    with pytest.raises(ValueError, match=match):  # was: an overflow, a MemoryError in a cell
        parse_config(data)


def test_compare_refuses_seeds_as_a_number_and_images_the_model_cannot_take():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2)
    )
    model(torch.rand(1, 1, 8, 8))
    images, labels = torch.rand(8, 1, 8, 8), torch.arange(8) % 2
    import numpy as np

    rows = compare(
        model, (images, labels), methods=["saliency"], metrics=["deletion-auc"],
        value_range=(np.float32(0.0), np.float32(1.0)), eval_examples=2,
    )  # fmt: skip
    assert len(rows) > 0  # NumPy scalars are numbers: was refused as not finite
    with pytest.raises(TypeError, match="expected seeds as a sequence"):
        compare(model, (images, labels), seeds=3, methods=["saliency"], metrics=["deletion-auc"])
    with pytest.raises(ValueError, match=r"expected images the model takes, got \(8, 3, 8, 8\)"):
        compare(model, (torch.rand(8, 3, 8, 8), labels), methods=["saliency"])
