"""The SLURM scripts of docs/harness.md ("When one machine is not enough"), run here with the
SLURM variables set by hand: two array tasks on a tiny config, a failed task rerun by its
index, then the merge, equal to the unsharded run (timings aside)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._run_rows import comparable_rows

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "docs" / "slurm"


def _is_timing(metric: str) -> bool:
    """Timing rows (seconds-per-image, train-seconds, metric-seconds) differ between runs;
    every other value must be reproduced exactly."""
    return "seconds" in metric


#: Two seeds are two groups (one trained model each), so each of the two tasks gets one.
TINY_TOML = """\
[run]
name = "slurm-tiny"
seeds = [0, 1]
device = "cpu"
eval_examples = 6
batch_size = 3
figure_examples = 2
background_examples = 4
num_threads = 1

[[datasets]]
name = "mni-sks"
options = { num_train = 48, num_val = 12, num_test = 12, image_size = 16 }

[[models]]
name = "shallow-cnn"
options = { head = "max" }
[models.training]
epochs = 1
batch_size = 16

[methods]
names = ["ifim-sensitive", "saliency"]

[metrics]
names = ["contrastive-perturbation", "adversarial-correlation"]
"""


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The job's environment: this interpreter, this checkout, the tiny config, on CPU."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(
        PYTHON=sys.executable,
        CONFIG=str(tmp_path / "tiny.toml"),
        RUN_DIR=str(tmp_path / "runs"),
        DEVICE="cpu",
        OMP_NUM_THREADS="1",
    )
    env.update(variables)
    return env


def _job(script: str, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run one of docs/slurm/ as SLURM would: bash, in the submission folder."""
    return subprocess.run(
        ["bash", str(SLURM / script)],
        cwd=tmp_path,
        env=_env(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _task(tmp_path: Path, task_id: int, task_count: int, **variables: str) -> str:
    """One array task; returns its log (stderr)."""
    done = _job(
        "run_array.sbatch",
        tmp_path,
        SLURM_ARRAY_TASK_ID=str(task_id),
        SLURM_ARRAY_TASK_COUNT=str(task_count),
        **variables,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def _rows(folder: Path) -> list[tuple[object, ...]]:
    rows = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return comparable_rows(rows, _is_timing, digits=None)


def _written(folder: Path) -> dict[str, tuple[int, int]]:
    """(modification time, size) of every file of a run folder but its environment record."""
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in folder.rglob("*")
        if path.is_file() and path.name != "environment.json"
    }


@pytest.mark.slow
def test_the_array_tasks_then_the_merge_equal_the_unsharded_run(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY_TOML, encoding="utf-8")
    runs = tmp_path / "runs"
    # The unsharded run shares nothing with the tasks (its own folder and cache): it runs
    # beside them, one thread each (the two cores of a CI machine), and is compared last.
    tiny, whole_dir = str(tmp_path / "tiny.toml"), str(tmp_path / "whole")
    unsharded = [sys.executable, "-m", "comparisons", "run", "--config", tiny, "--output"]
    unsharded += [whole_dir, "--cache-dir", str(tmp_path / "whole-cache"), "--device", "cpu"]
    whole_log = (tmp_path / "whole.log").open("w+", encoding="utf-8")
    whole = subprocess.Popen(
        [*unsharded, "--no-progress"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=whole_log,
        text=True,
    )
    try:
        _tasks_then_merge(tmp_path, runs)
        returncode = whole.wait(timeout=300)
    finally:
        if whole.poll() is None:
            whole.kill()
            whole.wait()
        whole_log.close()
    assert returncode == 0, (tmp_path / "whole.log").read_text(encoding="utf-8")
    expected = _rows(tmp_path / "whole")
    assert {row[2] for row in expected} == {0, 1}
    assert {row[3] for row in expected} >= {"ifim-sensitive", "saliency"}
    assert _rows(runs / "merged") == expected
    assert (runs / "merged" / "report.md").is_file()


def _tasks_then_merge(tmp_path: Path, runs: Path) -> None:
    """The array's tasks as the test's story has them, then the merge."""
    # Task 0 of an array of 2 succeeds; task 1 fails before finishing anything.
    _task(tmp_path, 0, 2)
    assert (runs / "shard-1" / "config.json").is_file()
    assert any((runs / ".cache").iterdir())  # the shared cache of trained models

    # Rerunning a finished task rewrites none of its cells.
    before = _written(runs / "shard-1")
    _task(tmp_path, 0, 2)
    assert _written(runs / "shard-1") == before

    # The failed task rerun alone (sbatch --array=1): its task count is 1, so without
    # NUM_SHARDS the share would be 2/1, which is refused before anything runs.
    wrong = _job("run_array.sbatch", tmp_path, SLURM_ARRAY_TASK_ID="1", SLURM_ARRAY_TASK_COUNT="1")
    assert wrong.returncode == 2 and "2/1" in wrong.stderr, wrong.stderr
    assert not (runs / "shard-2" / "config.json").exists()
    _task(tmp_path, 1, 1, NUM_SHARDS="2")
    merged = _job("merge.sbatch", tmp_path)
    assert merged.returncode == 0, merged.stderr


def test_submit_queues_the_merge_after_the_whole_array(tmp_path: Path) -> None:
    """submit.sh with a stand-in sbatch that records its arguments and prints job ids."""
    log = tmp_path / "sbatch.log"
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/bash\necho "$*" >> "$SBATCH_LOG"\n'
        'echo "$((4100 + $(wc -l < "$SBATCH_LOG")));cluster"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    env["SBATCH_LOG"] = str(log)
    done = subprocess.run(
        ["bash", str(SLURM / "submit.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    array_call, merge_call = log.read_text(encoding="utf-8").splitlines()
    assert array_call.endswith("run_array.sbatch") and "--parsable" in array_call
    assert "--dependency=afterok:4101 " in merge_call  # the array's id, cluster name cut
    assert "--kill-on-invalid-dep=yes" in merge_call and merge_call.endswith("merge.sbatch")
    assert "job 4101" in done.stdout and "job 4102" in done.stdout


def test_the_array_script_runs_one_shard_per_task_with_one_gpu() -> None:
    script = (SLURM / "run_array.sbatch").read_text(encoding="utf-8")
    assert "#SBATCH --gres=gpu:1" in script
    assert "shard=$((SLURM_ARRAY_TASK_ID + 1))" in script
    assert "NUM_SHARDS=${NUM_SHARDS:-$SLURM_ARRAY_TASK_COUNT}" in script
    assert '--shard "$shard/$NUM_SHARDS"' in script and '--cache-dir "$CACHE_DIR"' in script
    harness = (ROOT / "docs" / "harness.md").read_text(encoding="utf-8")
    for name in ("run_array.sbatch", "merge.sbatch", "submit.sh"):
        assert "{literalinclude} slurm/" + name in harness, name
