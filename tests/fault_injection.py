"""The fault-injection pass of issue 21: a few hundred probes, each doing one bad thing to
the library or the harness, each outcome classified, the tally written.

Run it from the repository root (the lead reruns it before closing issue 21)::

    python tests/fault_injection.py --output /tmp/fi             # every probe
    python tests/fault_injection.py --output /tmp/fi --only kill  # categories whose name has 'kill'

It writes ``<output>/tally.md`` (counts per outcome and per category, then every probe that
is a finding with its message), ``<output>/probes.csv`` (every probe: name, category,
outcome, seconds, message) and its scratch files under ``<output>/work``. Nothing is
written outside ``<output>``: ``TMPDIR``, ``MPLCONFIGDIR``, ``XDG_CACHE_HOME`` and
``TORCH_HOME`` point into it, every run gets an ``--output`` and a ``--cache-dir`` there, and
the probes run from ``<output>/work``. It exits 0 whatever the probes find (2 when
``<output>`` holds files of something else).

The library probes call it in this process, each under a ``signal.setitimer`` limit, and
check that the model and tensors given are left as found. The command line runs in this
process too (``comparisons._cli.main``, its log captured), except where a process must be
killed or hold a lock while another runs: those run ``python -m comparisons`` through a small
worker script (written into ``<output>/work``) that injects the fault, with a timeout. Full
disks and read-only folders are simulated as tests/test_comparisons_robustness.py does (the
tests run as root, where ``chmod`` does not stop writes): ``os.open``/``os.mkdir`` refusing
a folder's paths with ``EACCES``, or the atomic writer stopping half-way with ``ENOSPC``.
About 6 minutes on 2 cores.

Outcomes, worst first (the first four are the findings issue 21 asks to bring to zero):

- ``hang``: no answer within the probe's time limit (``signal.setitimer`` in this process,
  a subprocess timeout for the command-line runs).
- ``code executed``: a marker file appeared that only code inside untrusted data creates (a
  pickle in a weights, examples or cache file, an object ``.npy``, a config value other than
  a ``factory``). A ``factory`` or ``trust_pickle = true`` running code is documented
  (docs/own-model.md, "A config is code"): ``handled`` while the page says so.
- ``data lost``: a file the user had changed or vanished, the rows after a resume differ
  from the reference run's (timings aside), or the model or tensors given to the library
  changed (parameters, buffers, hooks, ``requires_grad``, ``.grad``).
- ``traceback``: a raw error (RuntimeError, IndexError, KeyError, ... or a ValueError or
  TypeError raised inside torch, numpy, Captum, ...), exit 6 or a traceback in the log.
- ``probe error``: the probe itself failed to set up (listed; the pass goes on).
- ``unclear error``: a documented error type raised by this repository's code whose message
  neither says "expected" nor names the option or file; a command that exited 2-5 saying
  neither; cells that failed (exit 1) without a traceback; a clear error, or a wrong result
  (NaN maps, a wrong shape, a failure the report does not explain), for an input the docs
  say is valid.
- ``accepted``: bad input taken without an error (listed for judgement: some are valid).
- ``clear error``: a documented error (``ValueError``, ``TypeError``,
  ``UnsupportedModelError``, ``FileNotFoundError``, the harness's lock and device errors)
  raised by this repository's code saying what was expected, or a command that exited 2, 3,
  4 or 5 with no traceback in its log.
- ``handled``: the bad thing was handled as documented (a corrupted cell quarantined and
  recomputed with identical rows, a float64 input taken, a read-only cache warned about).

The pass is deterministic: fixed seeds everywhere, kill points drawn from
``random.Random(21)`` over the writes and metric calls counted in a reference run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import errno
import hashlib
import io
import json
import linecache
import logging
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # no __pycache__ in the repository: everything under --output
OWN_PACKAGES = (REPO / "captum_ifim", REPO / "comparisons")

HANG = "hang"
CODE_EXECUTED = "code executed"
DATA_LOST = "data lost"
TRACEBACK = "traceback"
PROBE_ERROR = "probe error"
UNCLEAR = "unclear error"
ACCEPTED = "accepted"
CLEAR = "clear error"
HANDLED = "handled"
#: Worst first: a probe's outcome is the worst of what it saw.
OUTCOMES = (
    HANG,
    CODE_EXECUTED,
    DATA_LOST,
    TRACEBACK,
    PROBE_ERROR,
    UNCLEAR,
    ACCEPTED,
    CLEAR,
    HANDLED,
)
FINDINGS = (HANG, CODE_EXECUTED, DATA_LOST, TRACEBACK)

LIBRARY_SECONDS = 60.0
CLI_SECONDS = 240.0
SUBPROCESS_SECONDS = 300

Result = tuple[str, str]


class ProbeTimeout(BaseException):
    """Raised by SIGALRM when a probe runs past its limit (a BaseException, so that no
    ``except Exception`` of the code under test swallows it)."""


class SetupError(Exception):
    """A shared fixture of several probes could not be built."""


@dataclasses.dataclass
class Probe:
    name: str
    category: str
    run: Callable[[], Result]
    timeout: float = LIBRARY_SECONDS


@dataclasses.dataclass
class Record:
    name: str
    category: str
    outcome: str
    seconds: float
    message: str


def worst(*results: Result) -> Result:
    """The worst of several outcomes, its message first, the others' after it."""
    ranked = sorted(results, key=lambda r: OUTCOMES.index(r[0]))
    messages = list(dict.fromkeys(m for _, m in ranked if m))
    return ranked[0][0], "; ".join(messages)


def first_line(text: str, limit: int = 400) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- classifying errors -----------------------------------------------------------------------


def _own_file(filename: str) -> bool:
    path = Path(filename).resolve()
    return any(path.is_relative_to(package) for package in OWN_PACKAGES)


def _short(filename: str) -> str:
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(REPO).as_posix()
    text = path.as_posix()
    return text.split("site-packages/")[-1]


def _raise_site(error: BaseException) -> tuple[str, int]:
    tb = error.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return "?", 0
    return last.tb_frame.f_code.co_filename, last.tb_lineno


def documented_errors() -> tuple[type[BaseException], ...]:
    from captum_ifim import UnsupportedModelError
    from comparisons._exit_codes import (
        CacheLockTimeoutError,
        DeviceUnavailableError,
        RunFolderLockedError,
    )

    return (
        ValueError,
        TypeError,
        UnsupportedModelError,
        FileNotFoundError,
        ImportError,
        NotADirectoryError,
        RunFolderLockedError,
        CacheLockTimeoutError,
        DeviceUnavailableError,
    )


def classify_error(error: BaseException, hints: Iterable[str] = ()) -> Result:
    """Clear, unclear or traceback: a documented type raised by a ``raise`` statement of
    this repository's code is clear when it says "expected" or names a hint."""
    filename, line = _raise_site(error)
    text = " ".join(str(error).split())
    name = type(error).__name__
    where = f"{_short(filename)}:{line}"
    explicit = _own_file(filename) and linecache.getline(filename, line).strip().startswith("raise")
    documented = isinstance(error, documented_errors()) or (
        isinstance(error, RuntimeError) and text.lower().startswith("expected")
    )  # a RuntimeError the docs name, e.g. DeepSHAP's additivity check
    if explicit and documented:
        if "expected" in text.lower() or any(h and str(h) in text for h in hints):
            return CLEAR, f"{name}: {first_line(text)}"
        return UNCLEAR, f"{name}: {first_line(text) or '(no message)'} [{where}]"
    return TRACEBACK, f"{name}: {first_line(text) or '(no message)'} [raised at {where}]"


# --- the model and tensors as found --------------------------------------------------------


def _same_values(a: Any, b: Any) -> bool:
    import torch

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return bool(torch.equal(a, b))


class Kept:
    """A snapshot of a model and of tensors given to the library, compared afterwards."""

    def __init__(self, model: Any, tensors: Iterable[Any]) -> None:
        import torch

        from tests._baseline_models import model_state

        self.model = model if isinstance(model, torch.nn.Module) else None
        if self.model is not None and any(
            t.device.type == "meta" for t in [*self.model.parameters(), *self.model.buffers()]
        ):
            self.model = None  # nothing to compare on the meta device
        self.state = model_state(self.model) if self.model is not None else None
        self.tensors = []
        for t in tensors:
            if isinstance(t, torch.Tensor):
                copy_ = None if t.device.type == "meta" else t.detach().clone()
                self.tensors.append((t, copy_, t.requires_grad, t.grad, t.is_leaf))

    def changes(self) -> str:
        from tests._baseline_models import assert_same_state, model_state

        if self.model is not None:
            try:
                assert_same_state(self.state, model_state(self.model, copy_tensors=False))
            except AssertionError as error:
                return f"the model changed ({first_line(str(error)) or 'state'})"
        for i, (t, copy_, requires_grad, grad, leaf) in enumerate(self.tensors):
            if copy_ is not None and not _same_values(t.detach(), copy_):
                return f"input tensor {i} changed its values"
            if t.requires_grad != requires_grad or t.grad is not grad or t.is_leaf != leaf:
                return f"input tensor {i} changed requires_grad, .grad or is_leaf"
        return ""


def _summary(value: Any) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            return f"a {tuple(value.shape)} {value.dtype} tensor on the meta device"
        finite = bool(torch.isfinite(value).all()) if value.is_floating_point() else True
        return f"a {tuple(value.shape)} {value.dtype} tensor{'' if finite else ' with NaN/inf'}"
    if dataclasses.is_dataclass(value):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) < 80 else f"a {type(value).__name__}"


def library_call(
    call: Callable[[], Any],
    *,
    model: Any = None,
    tensors: Iterable[Any] = (),
    accept: bool | None = False,
    hints: Iterable[str] = (),
    check: Callable[[Any], str] | None = None,
) -> Result:
    """Call the library once: the error's class, or ``accepted``/``handled`` when it
    returns; ``data lost`` when the model or the tensors changed. ``accept``: whether the
    input is valid (True), bad (False), or may be taken or refused (None)."""
    kept = Kept(model, tensors)
    try:
        value = call()
    except ProbeTimeout:
        raise
    except Exception as error:
        result = classify_error(error, hints)
        if accept is True and result[0] == CLEAR:
            result = UNCLEAR, f"refused a valid input: {result[1]}"
    else:
        problem = check(value) if check is not None else ""
        if problem:
            result = (UNCLEAR if accept else ACCEPTED), f"returned {problem}"
        else:
            taken = accept is not False
            result = (HANDLED if taken else ACCEPTED), f"returned {_summary(value)}"
    changed = kept.changes()
    if changed:
        return worst(result, (DATA_LOST, changed))
    return result


# --- the command line, in this process and in subprocesses --------------------------------


class _LogCapture(logging.Handler):
    """The root logger's one handler: the current probe's log lines, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname}: {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(text)


CAPTURE = _LogCapture()


@dataclasses.dataclass
class Command:
    code: int
    text: str

    def errors(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for line in self.text.splitlines()
            if line.startswith(("ERROR:", "CRITICAL:"))
        ]

    def said(self) -> str:
        errors = self.errors()
        if errors:
            return first_line(errors[-1], 300)
        lines = [line for line in self.text.splitlines() if line.strip()]
        return first_line(lines[-1], 300) if lines else ""


def cli(*argv: Any) -> Command:
    """``python -m comparisons <argv>`` in this process: exit status and log."""
    from comparisons._cli import main

    CAPTURE.lines = []
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as stop:  # argparse
            code = stop.code if isinstance(stop.code, int) else 2
    text = "\n".join([*CAPTURE.lines, stdout.getvalue(), stderr.getvalue()])
    return Command(int(code), text)


def cli_subprocess(
    argv: list[Any], *, env: dict[str, str] | None = None, timeout: float = SUBPROCESS_SECONDS
) -> Command | None:
    """The worker script with ``argv`` in a new process; ``None`` when it hung."""
    command = [sys.executable, str(WORK.worker), *map(str, argv)]
    process = subprocess.Popen(
        command,
        cwd=WORK.root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except BaseException as error:  # its time limit, or this probe's
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        if isinstance(error, subprocess.TimeoutExpired):
            return None
        raise
    return Command(process.returncode, out)


def failure_reason(folder: Path) -> str:
    texts = [p.read_text(errors="replace") for p in sorted((folder / "failed").glob("*.txt"))]
    lines = [t.strip().splitlines()[-1] for t in texts if t.strip()]
    return f"{len(texts)} failed: {first_line(lines[0]) if lines else '(empty failure files)'}"


def classify_command(
    result: Command | None,
    *,
    ok: Iterable[int] = (0,),
    hints: Iterable[str] = (),
    folder: Path | None = None,
    what: str = "",
) -> Result:
    """A command's outcome: ``ok`` codes are handled, 2-5 without a traceback clear (unclear
    when the log names none of ``hints``), 6 or a traceback a traceback."""
    label = f"{what}: " if what else ""
    if result is None:
        return HANG, f"{label}no exit within the time limit"
    code, text = result.code, result.text
    if code in tuple(ok) and "Traceback (most recent call last)" not in text:
        return HANDLED, f"{label}exit {code}" + (f" ({result.said()})" if code else "")
    if code == 1 and folder is not None and (folder / "failed").is_dir():
        reason = failure_reason(folder)
        has_traceback = any(
            "Traceback" in p.read_text(errors="replace") for p in (folder / "failed").glob("*")
        )
        return (TRACEBACK if has_traceback else UNCLEAR), f"{label}exit 1, cells {reason}"
    if "Traceback (most recent call last)" in text or code == 6:
        tail = [line for line in text.splitlines() if line.strip()]
        error_line = next((x for x in reversed(tail) if "Error" in x or "error" in x), "")
        return TRACEBACK, f"{label}exit {code}: {first_line(result.said() or error_line)}"
    if code in (2, 3, 4, 5):
        hints = [str(h) for h in hints if h]
        if hints and not any(h in text for h in hints) and "expected" not in result.said():
            return UNCLEAR, f"{label}exit {code} without naming {hints[0]}: {result.said()}"
        return CLEAR, f"{label}exit {code}: {result.said()}"
    if code == 0:
        return ACCEPTED, f"{label}exit 0: taken without an error"
    if code < 0:
        return TRACEBACK, f"{label}killed by signal {-code}"
    return TRACEBACK, f"{label}exit {code}: {result.said()}"


# --- the scratch folder and shared fixtures -----------------------------------------------

WORKER_SOURCE = '''
"""The command line with one fault (FI_MODE) injected; used by tests/fault_injection.py."""
import io, os, pathlib, signal, sys, time

mode = os.environ.get("FI_MODE", "")
at = int(os.environ.get("FI_AT", "0"))
state = pathlib.Path(os.environ.get("FI_STATE", "."))


def die():
    os.kill(os.getpid(), signal.SIGKILL)


if mode in ("kill-mid-write", "kill-after-write"):
    import comparisons._atomic as atomic

    real_write, seen = atomic._write_atomically, [0]

    def write(path, writer):
        seen[0] += 1
        if seen[0] != at:
            return real_write(path, writer)
        if mode == "kill-after-write":
            real_write(path, writer)
            die()
        buffer = io.BytesIO()
        writer(buffer)
        data = buffer.getvalue()

        def half(stream):
            stream.write(data[: len(data) // 2])
            stream.flush()
            os.fsync(stream.fileno())
            die()

        return real_write(path, half)

    atomic._write_atomically = write
elif mode == "kill-in-metric":
    import comparisons.run._cell as cell

    real_metric, calls = cell.run_metric, [0]

    def run_metric(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            die()
        return real_metric(*args, **kwargs)

    cell.run_metric = run_metric
elif mode in ("kill-in-fit", "hold-in-fit"):
    import comparisons.training._train_model as train

    real_fit = train.fit

    def fit(*args, **kwargs):
        (state / f"training-{os.getpid()}").touch()
        if mode == "kill-in-fit":
            die()
        while not (state / "release").exists():
            time.sleep(0.05)
        return real_fit(*args, **kwargs)

    train.fit = fit

from comparisons._cli import main

sys.exit(main(sys.argv[1:]))
'''


class Payload:
    """Pickled, it opens (creates) ``marker`` when unpickled: code inside data."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


@dataclasses.dataclass
class Reference:
    """A finished run of a small config: its folder, TOML and comparable rows."""

    config: Path
    path: Path
    rows: list
    writes: int = 0
    metric_calls: int = 0


class Work:
    """The scratch folder and the fixtures several probes share (built once, lazily)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "cache"
        self.worker = root / "worker.py"
        self._built: dict[str, Any] = {}
        self._counter = Counter()

    def folder(self, name: str) -> Path:
        """A fresh folder for one probe."""
        self._counter[name] += 1
        suffix = f"-{self._counter[name]}" if self._counter[name] > 1 else ""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
        path = self.root / "probes" / f"{safe}{suffix}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def marker(self, name: str) -> Path:
        path = self.root / "markers" / f"{name}.marker"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

    def shared(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once; a failed build fails every probe that needs it, quickly."""
        if key not in self._built:
            try:
                self._built[key] = build()
            except ProbeTimeout:
                self._built[key] = SetupError(f"{key}: timed out")
                raise
            except Exception as error:
                self._built[key] = SetupError(f"{key}: {type(error).__name__}: {error}")
        value = self._built[key]
        if isinstance(value, SetupError):
            raise value
        return value

    # the small configs of tests/test_comparisons_robustness.py

    def small(self, **run: Any) -> dict:
        from tests.test_comparisons_robustness import small

        return small(**run)

    def toml(self, name: str, data: dict) -> Path:
        from tests.test_comparisons_robustness import write_toml

        path = self.root / "configs" / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_toml(path, data)

    def reference(self, key: str = "pairs") -> Reference:
        """``pairs``: SMALL with seeds 0 and 1 (4 cells, 2 models, 1 pair of models);
        ``single``: SMALL (2 cells), with its atomic writes and metric calls counted."""
        return self.shared(f"reference-{key}", lambda: self._reference(key))

    def _reference(self, key: str) -> Reference:
        import comparisons._atomic as atomic
        import comparisons.run._cell as cell_module
        from comparisons.run_folder import RunFolder
        from tests.test_comparisons_robustness import comparable

        data = self.small(seeds=[0, 1]) if key == "pairs" else self.small()
        config = self.toml(key, data)
        path = self.root / "reference" / key
        if key == "single":
            self.reference("pairs")  # trains seed 0 into the cache first
        counts = Counter()
        real_write, real_metric = atomic._write_atomically, cell_module.run_metric

        def write(*args: Any, **kwargs: Any) -> Any:
            counts["writes"] += 1
            return real_write(*args, **kwargs)

        def metric(*args: Any, **kwargs: Any) -> Any:
            counts["metrics"] += 1
            return real_metric(*args, **kwargs)

        atomic._write_atomically, cell_module.run_metric = write, metric
        try:
            result = cli(
                "run",
                "--config",
                config,
                "--output",
                path,
                "--cache-dir",
                self.cache,
                "--no-progress",
            )
        finally:
            atomic._write_atomically, cell_module.run_metric = real_write, real_metric
        if result.code != 0:
            raise SetupError(f"reference run exit {result.code}: {result.said()}")
        rows = comparable(RunFolder(path).rows())
        return Reference(config, path, rows, counts["writes"], counts["metrics"])

    def copy_of(self, reference: Reference, name: str) -> Path:
        folder = self.folder(name) / "run"
        shutil.copytree(reference.path, folder)
        return folder


WORK: Work  # set by main()


def rows_of(folder: Path) -> list:
    from comparisons.run_folder import RunFolder
    from tests.test_comparisons_robustness import comparable

    return comparable(RunFolder(folder).rows())


def compare_rows(folder: Path, reference: Reference, what: str = "rows") -> Result:
    try:
        rows = rows_of(folder)
    except Exception as error:
        return DATA_LOST, f"{what} unreadable: {type(error).__name__}: {first_line(str(error))}"
    if rows == reference.rows:
        return HANDLED, f"{what} identical to the reference ({len(rows)})"
    missing = len(set(reference.rows) - set(rows))
    changed = len(set(rows) - set(reference.rows))
    return DATA_LOST, f"{what} differ from the reference: {missing} missing, {changed} other"


def resume(folder: Path, reference: Reference, cache: Path | None = None) -> Result:
    """Run the reference's config again into ``folder``: exit 0 and the reference's rows."""
    result = cli(
        "run",
        "--config",
        reference.config,
        "--output",
        folder,
        "--cache-dir",
        cache or WORK.cache,
        "--no-progress",
    )
    outcome = classify_command(result, folder=folder, what="resume")
    if outcome[0] in (HANG, TRACEBACK, CLEAR):
        # A resume refused with a clear error (exit 2-5, one line) recomputes nothing, so
        # its rows are not the reference's by design; what it must not do is lose files,
        # which the caller checks (``damaged_run``: nothing of the folder may vanish).
        return outcome
    return worst(outcome, compare_rows(folder, reference))


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> str:
    temporary = [p.name for p in folder.rglob("*.tmp")]
    return f" ({len(temporary)} .tmp file(s) left, e.g. {temporary[0]})" if temporary else ""


# --- 1. library: every registered method and every metric function ------------------------

SIDE = 16


def _model(seed: int = 0) -> Any:
    from tests._baseline_models import small_cnn

    return small_cnn(1, seed=seed)


def _images(n: int = 2, channels: int = 1, side: int = SIDE, seed: int = 0) -> Any:
    from tests._baseline_models import images

    return images(n, channels, side=side, seed=seed)


def _build_options(name: str) -> dict[str, Any]:
    from captum_ifim import get_method_spec

    options: dict[str, Any] = {}
    if name == "integrated-gradients":
        options["n_steps"] = 4
    if get_method_spec(name).needs_background:
        options["background"] = _images(2, seed=7)
    return options


#: Inputs for a built method: (probe, make inputs from x, may the method take them).
def _input_variants() -> list[tuple[str, Callable[[Any], Any], bool]]:
    import numpy as np
    import torch

    def nan(x: Any) -> Any:
        y = x.clone()
        y[0, 0, 3, 3] = float("nan")
        return y

    def inf(x: Any) -> Any:
        y = x.clone()
        y[1, 0, 5, 5] = float("inf")
        return y

    return [
        ("rank 2", lambda x: x.flatten(1), False),
        ("rank 3", lambda x: x[:, 0], False),
        ("rank 5", lambda x: x.unsqueeze(2).expand(-1, -1, 3, -1, -1).contiguous(), False),
        ("3 channels", lambda x: x.expand(-1, 3, -1, -1).contiguous(), False),
        ("NaN pixel", nan, False),
        ("inf pixel", inf, False),
        ("float64", lambda x: x.double(), False),
        ("float16", lambda x: x.half(), False),
        ("int64", lambda x: (x * 10).long(), False),
        ("bool", lambda x: x > 0, False),
        ("empty batch", lambda x: x[:0], False),
        ("meta device", lambda x: x.to("meta"), False),
        ("a list", lambda x: x.tolist(), False),
        ("a numpy array", lambda x: x.numpy(), False),
        ("None", lambda x: None, False),
        ("1x1 pixels", lambda x: x[:, :, :1, :1].contiguous(), False),
        ("requires_grad leaf", lambda x: x.clone().requires_grad_(), True),
        ("non-contiguous", lambda x: x.transpose(2, 3), True),
        ("channels_last", lambda x: x.contiguous(memory_format=torch.channels_last), True),
        ("a 1-tuple", lambda x: (x,), True),
        ("a 2-tuple", lambda x: (x, x), False),
        ("numpy float32 scalar", lambda x: np.float32(1.0), False),
    ]


def _target_variants() -> list[tuple[str, Any, bool]]:
    import torch

    return [
        ("target 7 of 3 classes", 7, False),
        ("target -1", -1, False),
        ("target list too short", [0], False),
        ("target list too long", [0, 1, 2], False),
        ("float target tensor", torch.tensor([0.0, 1.0]), False),
        ("string target", "cat", False),
        ("2-D target tensor", torch.tensor([[0], [1]]), False),
        ("target tensor on meta", torch.tensor([0, 1]).to("meta"), False),
        ("float target 1.5", 1.5, False),
        ("target as (N,) tensor", torch.tensor([2, 0]), True),
        ("target None (documented: the predicted class)", None, True),
    ]


def _bad_option_values(option: str) -> list[tuple[Any, bool]]:
    """Values for one method option: a wrong type and an out-of-range value (and whether
    taking it is valid)."""
    special: dict[str, list[tuple[Any, bool]]] = {
        "baselines": [("zero", False), (float("nan"), False)],
        "reshape_transform": [("vit", False), (5, False)],
        "abs": [("yes", False), (2, False)],
        "check_additivity": [("yes", False), (2, False)],
        "multiply_by_inputs": [("yes", False), (2, False)],
    }
    return special.get(option, [("bogus", False), (-1, False)])


def probes_library_methods() -> Iterator[Probe]:
    import torch
    from torch import nn

    from captum_ifim import available_methods, build_method, get_method_spec

    category = "library: methods"

    def probe(name: str, run: Callable[[], Result]) -> Probe:
        return Probe(name, category, run)

    yield probe(
        "build_method('no-such-method')",
        lambda: library_call(lambda: build_method("no-such-method", _model())),
    )
    for name in available_methods():
        spec = get_method_spec(name)
        built: dict[str, Any] = {}

        def method(name: str = name, built: dict = built) -> tuple[Any, Any]:
            if "method" not in built:
                model = _model()
                built["model"], built["method"] = (
                    model,
                    build_method(name, model, **_build_options(name)),
                )
            return built["model"], built["method"]

        def attribute(
            inputs: Any,
            target: Any = None,
            accept: bool = False,
            method: Callable[[], tuple[Any, Any]] = method,
            built: dict = built,
            **kw: Any,
        ) -> Result:
            model, explainer = method()
            tensors = inputs if isinstance(inputs, tuple) else (inputs,)
            result = library_call(
                lambda: explainer.attribute(inputs, target=target, **kw),
                model=model,
                tensors=[*tensors, target] if isinstance(target, torch.Tensor) else tensors,
                accept=accept,
                hints=("inputs", "target"),
                check=_finite_map_check(inputs) if accept else None,
            )
            if result[0] == DATA_LOST:
                built.clear()  # rebuild on a fresh model after a probe changed this one
            return result

        yield probe(
            f"{name}: build with an unknown option",
            lambda name=name: library_call(
                lambda: build_method(name, _model(), no_such_option=1, **_build_options(name)),
                hints=("no_such_option",),
            ),
        )
        yield probe(
            f"{name}: build on a function, not a module",
            lambda name=name: library_call(
                lambda: build_method(name, lambda x: x, **_build_options(name)),
                hints=("model",),
            ),
        )
        for option in sorted(spec.options):
            for value, valid in _bad_option_values(option):
                yield probe(
                    f"{name}: option {option}={value!r}",
                    lambda name=name, option=option, value=value, valid=valid: library_call(
                        lambda: build_method(
                            name, _model(), **{**_build_options(name), option: value}
                        ),
                        accept=valid,
                        hints=(option,),
                    ),
                )
        if spec.needs_target_layer:
            yield probe(
                f"{name}: target_layer='no.such.layer'",
                lambda name=name: library_call(
                    lambda: build_method(name, _model(), target_layer="no.such.layer"),
                    hints=("no.such.layer", "target_layer"),
                ),
            )
            yield probe(
                f"{name}: target_layer a module outside the model",
                lambda name=name: library_call(
                    lambda: build_method(name, _model(), target_layer=nn.Conv2d(1, 1, 1)),
                    hints=("target_layer",),
                ),
            )
        if spec.needs_background:
            for label, background in (
                ("no background", None),
                ("background of 3 channels", lambda: _images(2, 3)),
                ("empty background", lambda: _images(2)[:0]),
                ("NaN background", lambda: _images(2) * float("nan")),
            ):

                def run_background(name: str = name, background: Any = background) -> Result:
                    model = _model()
                    value = background() if background is not None else None

                    def call() -> Any:
                        return build_method(name, model, background=value).attribute(
                            _images(2), target=[0, 1]
                        )

                    return library_call(call, model=model, tensors=[value], hints=("background",))

                yield probe(f"{name}: {label}", run_background)

        def training_mode(name: str = name) -> Result:
            model = _model().train()
            explainer = build_method(name, model, **_build_options(name))
            return library_call(
                lambda: explainer.attribute(_images(2), target=[0, 1]),
                model=model,
                hints=("eval", "training"),
            )

        yield probe(f"{name}: model in training mode (BatchNorm)", training_mode)
        for label, make, valid in _input_variants():
            yield probe(
                f"{name}: inputs {label}",
                lambda make=make, valid=valid, attribute=attribute: attribute(
                    make(_images(2)), target=[0, 1], accept=valid
                ),
            )
        for label, target, valid in _target_variants():
            yield probe(
                f"{name}: {label}",
                lambda target=target, valid=valid, attribute=attribute: attribute(
                    _images(2), target=target, accept=valid
                ),
            )
        yield probe(
            f"{name}: additional_forward_args the model does not take",
            lambda attribute=attribute: attribute(
                _images(2), target=[0, 1], additional_forward_args=(1.0,)
            ),
        )
        if spec.has_spectrum:
            for label, make, _ in _input_variants()[:16]:

                def eigenvalues(make: Callable = make, method: Callable = method) -> Result:
                    model, explainer = method()
                    inputs = make(_images(2))
                    return library_call(
                        lambda: explainer.eigenvalues(inputs),
                        model=model,
                        tensors=inputs if isinstance(inputs, tuple) else (inputs,),
                        hints=("inputs",),
                    )

                yield probe(f"{name}: eigenvalues of inputs {label}", eigenvalues)
        else:
            yield probe(
                f"{name}: eigenvalues() of a method with no spectrum",
                lambda method=method: library_call(
                    lambda: method()[1].eigenvalues(_images(2)), hints=("spectrum",)
                ),
            )


def _finite_map_check(inputs: Any) -> Callable[[Any], str]:
    import torch

    def check(value: Any) -> str:
        values = value if isinstance(value, tuple) else (value,)
        given = inputs if isinstance(inputs, tuple) else (inputs,)
        for v, x in zip(values, given, strict=False):
            if isinstance(v, torch.Tensor) and v.device.type == "meta":
                return "a map on the meta device"
            if not isinstance(v, torch.Tensor) or v.shape != x.shape:
                return f"a map of shape {getattr(v, 'shape', type(v))} for inputs {x.shape}"
            if not torch.isfinite(v).all():
                return "a map with NaN/inf values"
        return ""

    return check


def _metric_calls() -> dict[str, tuple[Callable[..., Any], dict[str, Any], list[dict]]]:
    """Each metric function: the function, its valid keyword arguments (tensors by name),
    and option probes (keyword overrides)."""
    import torch

    from captum_ifim import build_method
    from captum_ifim import metrics as m

    model = _model()
    x = _images(4, seed=1)
    labels = torch.tensor([0, 1, 2, 0])
    maps = _images(4, seed=2).abs()
    masks = torch.zeros(4, SIDE, SIDE, dtype=torch.bool)
    masks[:, 4:9, 4:9] = True
    bases = [torch.linalg.qr(torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(k)))
             for k in (3, 4)]  # fmt: skip
    basis, other_basis = bases[0][0], bases[1][0]  # (N, d, K), orthonormal columns
    explainer = build_method("saliency", model)
    predictions = m.contrastive_perturbation_predictions(model, x, labels, maps, fractions=(0.1,))

    def perturb(inputs: Any) -> Any:
        noise = torch.randn(inputs.shape, generator=torch.Generator().manual_seed(0)) * 0.1
        return noise, inputs - noise

    curve = {"forward_func": model, "inputs": x, "attributions": maps, "target": labels, "steps": 4}
    contrastive = {
        "forward_func": model,
        "inputs": x,
        "labels": labels,
        "high_attributions": maps,
        "fractions": (0.1,),
    }
    adversarial = {
        "forward_func": model,
        "explainer": explainer,
        "inputs": x,
        "labels": labels,
        "epsilon": 0.01,
    }
    randomization = {
        "model": model,
        "explainer_factory": lambda net: build_method("saliency", net),
        "inputs": x[:2],
        "target": labels[:2],
        "layers": ["8"],
    }
    captum_infidelity = {
        "forward_func": model,
        "perturb_func": perturb,
        "inputs": x,
        "attributions": maps,
        "target": labels,
        "n_perturb_samples": 2,
    }
    captum_sensitivity = {
        "explanation_func": explainer.attribute,
        "inputs": x,
        "target": labels,
        "n_perturb_samples": 2,
    }
    overlap = {"U1": basis, "U2": other_basis}
    return {
        "deletion_auc": (m.deletion_auc, curve, [
            {"steps": 0}, {"steps": -3}, {"steps": "4"}, {"baseline": "bogus"},
            {"baseline": torch.zeros(2, 2)}, {"output": "bogus"}, {"spatial_dims": 7},
            {"max_examples_per_batch": 0}, {"target": 7}]),
        "insertion_auc": (m.insertion_auc, curve, [
            {"steps": 0}, {"baseline": "bogus"}, {"output": "bogus"}, {"target": -1}]),
        "contrastive_perturbation": (m.contrastive_perturbation, contrastive, [
            {"fractions": ()}, {"fractions": (0.0,)}, {"fractions": (1.5,)},
            {"fractions": ("a",)}, {"low_rule": "bogus"}, {"noise_std": -1.0},
            {"tie_break": "bogus"}, {"noise": torch.zeros(2, 2)}, {"seed": "a"},
            {"low_attributions": maps[:1]}, {"noise_std": float("nan")}]),
        "contrastive_perturbation_predictions": (
            m.contrastive_perturbation_predictions, contrastive,
            [{"fractions": (2.0,)}, {"low_rule": "bogus"}]),
        "adversarial_correlation": (m.adversarial_correlation, adversarial, [
            {"epsilon": -1.0}, {"epsilon": float("nan")}, {"map_target": "bogus"},
            {"clamp": (1.0, 0.0)}, {"explainer": None}, {"adversarial_inputs": x[:1]}]),
        "fgsm": (m.fgsm, {"forward_func": model, "inputs": x, "labels": labels, "epsilon": 0.01}, [
            {"epsilon": -1.0}, {"epsilon": float("inf")}, {"clamp": (1.0, 0.0)},
            {"clamp": ("a", "b")}, {"output": "bogus"}]),
        "kl_fidelity": (m.kl_fidelity, {"forward_func": model, "inputs": x[:2],
                                        "epsilons": (0.01,)}, [
            {"epsilons": ()}, {"epsilons": (-1.0,)}, {"epsilons": (float("nan"),)},
            {"directions": torch.zeros(2, 2)}, {"output": "bogus"}]),
        "local_kl": (m.local_kl, {"forward_func": model, "inputs": x[:2],
                                  "directions": _images(2, seed=4), "epsilons": (0.01,)}, [
            {"epsilons": ()}, {"directions": torch.zeros(3, 1, 4, 4)}]),
        "energy_in_mask": (m.energy_in_mask, {"attributions": maps, "masks": masks}, [
            {"magnitude": "bogus"}, {"spatial_dims": 7}, {"masks": masks[:, :8]}]),
        "pointing_game": (m.pointing_game, {"attributions": maps, "masks": masks}, [
            {"tolerance": -1}, {"tolerance": "1"}, {"masks": masks[:, :8]}]),
        "model_parameter_randomization": (m.model_parameter_randomization, randomization, [
            {"layers": ["no.such.layer"]}, {"order": "bogus"}, {"seed": "a"}, {"layers": []},
            {"explainer_factory": None}]),
        "subspace_overlap": (m.subspace_overlap, overlap, [
            {"tolerance": -1.0}, {"k1": torch.tensor([5, 5])}]),
        "principal_angles": (m.principal_angles, overlap, [{"k1": torch.tensor([-1, 1])}]),
        "ifim_subspace_overlap": (m.ifim_subspace_overlap, {
            "model_a": model, "model_b": _model(seed=1), "inputs": x[:2]}, [
            {"energy": 1.5}, {"energy": 0.0}, {"output": "bogus"}]),
        "pixel_mask": (m.pixel_mask, {"attributions": maps, "fraction": 0.1}, [
            {"fraction": 0.0}, {"fraction": 1.5}, {"fraction": float("nan")},
            {"which": "bogus"}, {"spatial_dims": 9}]),
        "spatial_saliency": (m.spatial_saliency, {"attributions": maps}, [
            {"magnitude": "bogus"}, {"spatial_dims": 7}]),
        "num_selected_pixels": (m.num_selected_pixels, {"fraction": 0.1, "num_locations": 256}, [
            {"fraction": -1.0}, {"num_locations": 0}, {"num_locations": "a"},
            {"fraction": float("nan")}]),
        "pearson_per_sample": (m.pearson_per_sample, {"a": maps, "b": x}, []),
        "spearman_per_sample": (m.spearman_per_sample, {"a": maps, "b": x}, []),
        "gaussian_blur": (m.gaussian_blur, {"inputs": x}, [
            {"kernel_size": 0}, {"kernel_size": 4}, {"sigma": -1.0}, {"spatial_dims": 3}]),
        "gaussian_noise": (m.gaussian_noise, {"like": x}, [{"std": -1.0},
                                                           {"std": float("nan")}]),
        "f1": (m.f1, {"labels": labels, "predictions": labels.flip(0), "num_classes": 3}, [
            {"num_classes": 0}, {"num_classes": "3"}, {"predictions": labels + 5}]),
        "f1_ratio": (m.f1_ratio, {"predictions": predictions}, [
            {"predictions": "bogus"}, {"predictions": None}]),
        "compute_maps": (m.compute_maps, {"explainer": explainer, "inputs": x, "target": labels},
                         [{"explainer": None}, {"max_examples_per_batch": 0}]),
        "infidelity (Captum's)": (m.infidelity, captum_infidelity, [{"n_perturb_samples": 0}]),
        "sensitivity_max (Captum's)": (m.sensitivity_max, captum_sensitivity,
                                       [{"n_perturb_samples": 0}]),
    }  # fmt: skip


def _tensor_mutations(
    value: Any, key: str, alone: bool
) -> list[tuple[str, Callable[[Any], Any], bool | None]]:
    """Bad versions of one tensor argument and whether the function must take them (True),
    must refuse them (False) or may do either (None): ``alone`` when no other argument has
    a batch to match, ``key`` its name (a ``target`` may be a list; ``like`` gives only a
    shape and dtype)."""
    import torch

    if key == "like":
        return [
            ("meta device", lambda t: t.to("meta"), False),
            ("a list", lambda t: t.tolist(), False),
        ]
    if value.is_floating_point():
        found = [
            ("NaN", lambda t: t.clone().fill_(float("nan")), False),
            ("inf", lambda t: t.clone().fill_(float("inf")), False),
            ("float64", lambda t: t.double(), None),
        ]
    elif value.dtype == torch.bool:
        found = [("float", lambda t: t.float(), None)]
    else:
        found = [
            ("out of range (+10)", lambda t: t + 10, False),
            ("negative", lambda t: t - 10, False),
            ("float", lambda t: t.float(), False),
        ]
    found += [
        ("empty batch", lambda t: t[:0], False),
        ("meta device", lambda t: t.to("meta"), False),
        ("one more dimension", lambda t: t.unsqueeze(1), False),
        ("batch of one", lambda t: t[:1], alone),
        ("a list", lambda t: t.tolist(), None if key == "target" else False),
    ]
    return found


def probes_library_metrics() -> Iterator[Probe]:
    import torch

    calls = _metric_calls()
    for name, (function, valid, options) in calls.items():
        category = "library: Captum's metrics" if "Captum" in name else "library: metrics"
        model = valid.get("forward_func", valid.get("model"))

        def call(
            overrides: dict,
            accept: bool | None,
            function: Callable = function,
            valid: dict = valid,
            model: Any = model,
            hints: Iterable[str] = (),
        ) -> Result:
            kwargs = {**valid, **overrides}
            tensors = [v for v in kwargs.values() if isinstance(v, torch.Tensor)]
            return library_call(
                lambda: function(**kwargs),
                model=model,
                tensors=tensors,
                accept=accept,
                hints=hints,
            )

        yield Probe(f"{name}: valid call", category, lambda call=call: call({}, True))
        batched = [k for k, v in valid.items() if isinstance(v, torch.Tensor) and v.dim()]
        for key, value in valid.items():
            if not isinstance(value, torch.Tensor):
                continue
            for label, mutate, ok in _tensor_mutations(value, key, len(batched) == 1):
                yield Probe(
                    f"{name}: {key} {label}",
                    category,
                    lambda call=call, key=key, value=value, mutate=mutate, ok=ok: call(
                        {key: mutate(value)}, ok, hints=(key,)
                    ),
                )
        for overrides in options:
            label = ", ".join(f"{k}={_short_value(v)}" for k, v in overrides.items())
            yield Probe(
                f"{name}: {label}",
                category,
                lambda call=call, overrides=overrides: call(overrides, False, hints=overrides),
            )
        if model is not None:

            def double_model(
                name: str = name, function: Callable = function, valid: dict = valid
            ) -> Result:
                net = _model().double()
                key = "forward_func" if "forward_func" in valid else "model"
                return library_call(
                    lambda: function(**{**valid, key: net}), model=net, hints=("dtype",)
                )

            yield Probe(f"{name}: a float64 model, float32 inputs", category, double_model)


def _short_value(value: Any) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}"
    text = repr(value)
    return text if len(text) < 30 else text[:27] + "..."


# --- 2. configs -------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """A change of the SMALL config: set ``value`` at a dotted ``path`` (list indices as
    numbers); the value ``DELETE`` removes the key."""

    def change(data: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        node = data
        for key in keys[:-1]:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
        if value is DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return change


DELETE = object()


#: Bad values at dotted paths of SMALL (``DELETE`` removes the key): unknown keys and names,
#: wrong types, values out of range, names that are not plain file names.
BAD_VALUES: tuple[tuple[str, Any], ...] = (
    ("extra", {}), ("run.eval_exmples", 3), ("datasets.0.optionz", {}),
    ("datasets.0.options.num_trian", 3), ("models.0.trainig", {}),
    ("models.0.training.epohcs", 1), ("methods.nmaes", []), ("metrics.optons", {}),
    ("methods.options.deepshap", {}), ("methods.options.saliency", {"bogus": 1}),
    ("metrics.options.deletion-auc", {"bogus": 1}), ("methods.names", ["saliency", "salency"]),
    ("metrics.names", ["deletion-acu"]), ("datasets.0.name", "mni-sk"),
    ("models.0.name", "shallow-cn"), ("datasets", DELETE), ("models", DELETE),
    ("datasets", []), ("datasets", {"name": "mni-sks"}), ("datasets.0", "mni-sks"),
    ("models", "shallow-cnn"), ("methods.names", 5), ("methods.names", []),
    ("methods.names", "none"), ("methods.names", ["saliency", "saliency"]),
    ("metrics.names", ["deletion-auc", 3]), ("metrics.options", []), ("run.seeds", 0),
    ("run.seeds", []), ("run.seeds", [0.5]), ("run.seeds", ["0"]), ("run.seeds", [0, 0]),
    ("run.seeds", [True]), ("run.seeds", [-1]), ("run.seeds", [2**70]),
    ("run.eval_examples", 0), ("run.eval_examples", -1), ("run.eval_examples", "4"),
    ("run.eval_examples", 4.5), ("run.eval_examples", True), ("run.batch_size", 0),
    ("run.figure_examples", -1), ("run.background_examples", 0), ("run.num_threads", 0),
    ("run.num_threads", "1"), ("run.device", "tpu0"), ("run.device", 3),
    ("run.device", "cuda:x"), ("run.map_target", "bogus"), ("run.name", 5),
    ("datasets.0.options.image_size", 4), ("datasets.0.options.image_size", 0),
    ("datasets.0.options.image_size", -16), ("datasets.0.options.image_size", "16"),
    ("datasets.0.options.num_train", 0), ("datasets.0.options.num_test", -1),
    ("models.0.training.epochs", 0), ("models.0.training.epochs", -1),
    ("models.0.training.epochs", "1"), ("models.0.training.preset", "bogus"),
    ("models.0.training.lr", float("nan")), ("models.0.training.lr", -1.0),
    ("models.0.options.head", "huge"), ("models.0.datasets", ["nope"]),
    ("models.0.datasets", []), ("models.0.trust_pickle", "yes"), ("models.0.factory", "nocolon"),
    ("models.0.zoo", "evil:thing"), ("models.0.zoo", "torchvision:no_such_net"),
    ("models.0.weights", "/no/such/file.pt"), ("models.0.python_object", "abc"),
    ("metrics.options.deletion-auc.steps", 0), ("metrics.options.deletion-auc.steps", "many"),
    ("metrics.options.energy-in-mask", {"magnitude": "sq"}),
    ("metrics.options.energy-in-mask", {"methods": ["nope"]}),
    ("methods.options.saliency", {"abs": "yes"}),
    ("methods.options.gradcam", {"normalization": "bogus"}),
    ("methods.options.gradcam", {"reshape_transform": "os:system"}),
    ("methods.options.saliency", [1]),
    *(
        (path, value)
        for path in ("datasets.0.options.label", "run.name")
        for value in ("../../../escape", "<probe>/absolute", "a/b", "..", ".", "a\\b", "a\x00b",
                      "a\nb", "", " ", "x" * 300)
    ),
)  # fmt: skip


def _config_changes() -> list[tuple[str, Callable[[dict], None], tuple[str, ...], bool]]:
    """(probe, change of SMALL, words a clear message names, may it be taken)."""
    changes: list[tuple[str, Callable[[dict], None], tuple[str, ...], bool]] = []
    for path, value in BAD_VALUES:
        keys = [k for k in path.split(".") if not k.isdigit()]
        text = repr(value) if len(repr(value)) < 30 else repr(value)[:27] + "..."
        name = f"no {path}" if value is DELETE else f"{path} = {text}"
        hints = (keys[-1], value) if isinstance(value, str) and value else (keys[-1],)
        changes.append((name, _set(path, value), hints, False))
    changes.append(("no [run] (defaults)", _set("run", DELETE), ("run",), True))

    def contrastive(fractions: list[float]) -> Callable[[dict], None]:
        def change(data: dict) -> None:
            data["metrics"]["names"].append("contrastive-perturbation")
            _set("metrics.options.contrastive-perturbation", {"fractions": fractions})(data)

        return change

    for fractions in ([1.5], [float("nan")]):
        changes.append((f"fractions = {fractions}", contrastive(fractions), ("fractions",), False))
    for value in ("../escape", "a/b", "..", "x" * 300):
        entry = {"name": value, "zoo": "torchvision:resnet18"}
        changes.append(
            (f"zoo model named {value[:20]!r}", _set("models.0", entry), ("name",), False)
        )
    return changes


def _placed(data: Any, probe: Path) -> Any:
    """``data`` with ``<probe>`` in its strings replaced by the probe's folder."""
    if isinstance(data, dict):
        return {k: _placed(v, probe) for k, v in data.items()}
    if isinstance(data, list):
        return [_placed(v, probe) for v in data]
    return data.replace("<probe>", str(probe)) if isinstance(data, str) else data


def probes_configs() -> Iterator[Probe]:
    """Each bad config through ``parse_config``; when it loads, through what ``run --check``
    does next (``check_config``, ``check_inputs``)."""
    category = "configs"

    def load(change: Callable[[dict], None], hints: tuple[str, ...], ok: bool, name: str) -> Result:
        from comparisons.config import check_config, parse_config
        from comparisons.run import check_inputs

        probe = WORK.folder(name)
        data = WORK.small()
        change(data)
        data = _placed(data, probe)  # an absolute name points into this probe's folder
        parsed: list[Any] = []
        first = library_call(lambda: parsed.append(parse_config(data)), hints=hints, accept=ok)
        if not parsed:
            return first
        out = probe / "a" / "b" / "c" / "d" / "out"  # deep: a '../' name stays in the probe

        def check() -> None:
            check_config(parsed[0])
            check_inputs(parsed[0], out, None)

        second = library_call(check, hints=hints, accept=ok)
        if probe.exists() and any(probe.rglob("*")):
            return worst(second, (DATA_LOST, f"--check wrote {sorted(probe.rglob('*'))[0]}"))
        if second[0] != ACCEPTED:
            return second[0], f"loaded, then check: {second[1]}"
        WORK.reference("pairs")  # the model in the cache
        config = WORK.toml(f"accepted-{probe.name}", data)
        result = cli(
            "run", "--config", config, "--output", out, "--cache-dir", WORK.cache, "--no-progress"
        )
        outcome = classify_command(result, ok=(), hints=hints, folder=out)
        outside = [p for p in probe.rglob("*") if p.is_file() and not p.is_relative_to(out)]
        if outside:
            outcome = worst(outcome, (DATA_LOST, f"wrote outside --output: {outside[0]}"))
        return outcome[0], f"loaded and checked, then run: {outcome[1]}"

    for name, change, hints, ok in _config_changes():
        yield Probe(
            f"config: {name}",
            category,
            lambda change=change, hints=hints, ok=ok, name=name: load(change, hints, ok, name),
        )
    yield from _config_file_probes(category)
    yield from _huge_probes(category)


def _config_file_probes(category: str) -> Iterator[Probe]:
    """TOML files and command-line usage."""

    def check_file(content: bytes | None, name: str, hints: tuple[str, ...] = ()) -> Result:
        folder = WORK.folder(name)
        path = folder / "config.toml"
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        result = cli("run", "--check", "--config", path, "--output", folder / "out")
        return classify_command(result, ok=(), hints=hints or (str(path),))

    files: list[tuple[str, bytes | None]] = [
        ("a TOML syntax error", b"[run\nname = 'x'\n"),
        ("an empty file", b""),
        ("binary garbage", bytes(range(256)) * 4),
        ("UTF-16 with a BOM", "[run]\nname = 'x'\n".encode("utf-16")),
        ("a directory", None),
        ("10,000 nested arrays", b"a = " + b"[" * 10000 + b"]" * 10000 + b"\n"),
        ("a 'run' that is a string", b"run = 'fast'\n"),
    ]
    for name, content in files:
        yield Probe(
            f"config file: {name}",
            category,
            lambda content=content, name=name: check_file(content, name),
            CLI_SECONDS,
        )
    yield Probe(
        "config file: does not exist",
        category,
        lambda: classify_command(
            cli("run", "--check", "--config", WORK.root / "nope.toml"), ok=(), hints=("nope",)
        ),
        CLI_SECONDS,
    )

    def usage(*argv: Any, hints: tuple[str, ...] = ()) -> Callable[[], Result]:
        def run() -> Result:
            config = WORK.reference("pairs").config
            args = [WORK.folder("usage") if a == "<dir>" else a for a in argv]
            args = [config if a == "<config>" else a for a in args]
            return classify_command(cli(*args), ok=(), hints=hints)

        return run

    for label, argv, hints in (
        ("--shard 0/2", ("run", "--check", "--config", "<config>", "--shard", "0/2"), ("0/2",)),
        ("--shard 3/2", ("run", "--check", "--config", "<config>", "--shard", "3/2"), ("3/2",)),
        ("--shard a/b", ("run", "--check", "--config", "<config>", "--shard", "a/b"), ("a/b",)),
        ("--shard 1/0", ("run", "--check", "--config", "<config>", "--shard", "1/0"), ("1/0",)),
        (
            "--shard 1/2/3",
            ("run", "--check", "--config", "<config>", "--shard", "1/2/3"),
            ("1/2/3",),
        ),
        (
            "--device tpu0",
            ("run", "--check", "--config", "<config>", "--device", "tpu0"),
            ("tpu0",),
        ),
        ("no command", (), ()),
        ("unknown command", ("fly",), ("fly",)),
        ("run --bogus-flag", ("run", "--bogus-flag"), ("bogus",)),
        ("report of a missing folder", ("report", "/no/such/run"), ("/no/such/run",)),
        ("report of an empty folder", ("report", "<dir>"), ()),
        ("report --format pdf", ("report", "<dir>", "--format", "pdf"), ("pdf",)),
        (
            "merge of a missing shard",
            ("merge", "--output", "<dir>", "/no/such/shard"),
            ("/no/such/shard",),
        ),
        ("merge without shards", ("merge", "--output", "<dir>"), ()),
    ):
        yield Probe(f"usage: {label}", category, usage(*argv, hints=hints), CLI_SECONDS)


def _memory_limit(extra: int) -> contextlib.AbstractContextManager[None]:
    """Address space capped at what this process has plus ``extra`` bytes (a huge request
    fails with MemoryError instead of taking the machine)."""
    import resource

    @contextlib.contextmanager
    def limited() -> Iterator[None]:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        cap = pages * os.sysconf("SC_PAGE_SIZE") + extra
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))

    return limited()


def _huge_probes(category: str) -> Iterator[Probe]:
    """Huge sizes: ``run`` (warm cache) under a 3 GiB address-space cap and a 90 s limit."""

    def run_huge(change: Callable[[dict], None], name: str, hints: tuple[str, ...]) -> Result:
        WORK.reference("pairs")  # the cache holds the model
        data = WORK.small()
        change(data)
        folder = WORK.folder(name)
        try:
            config = WORK.toml(folder.name, data)
        except (ValueError, TypeError) as error:
            return classify_error(error, hints)
        with _memory_limit(3 << 30):
            result = cli(
                "run",
                "--config",
                config,
                "--output",
                folder / "out",
                "--cache-dir",
                WORK.cache,
                "--no-progress",
            )
        return classify_command(result, ok=(0,), hints=hints, folder=folder / "out")

    for name, change, hints in (
        ("image_size = 100000", _set("datasets.0.options.image_size", 100_000), ("image_size",)),
        ("num_test = 10**9", _set("datasets.0.options.num_test", 10**9), ("num_test",)),
        ("eval_examples = 10**9", _set("run.eval_examples", 10**9), ("eval_examples",)),
        ("batch_size = 10**9", _set("run.batch_size", 10**9), ("batch_size",)),
        ("figure_examples = 10**9", _set("run.figure_examples", 10**9), ("figure_examples",)),
        (
            "deletion-auc steps = 10**9",
            _set("metrics.options.deletion-auc.steps", 10**9),
            ("steps",),
        ),
        (
            "integrated-gradients n_steps = 10**9",
            lambda d: (
                d["methods"]["names"].append("integrated-gradients"),
                _set("methods.options.integrated-gradients", {"n_steps": 10**9})(d),
            ),
            ("n_steps",),
        ),
    ):
        yield Probe(
            f"huge: {name}",
            category,
            lambda change=change, name=name, hints=hints: run_huge(change, name, hints),
            60,
        )


# --- 3. corrupted files of a finished run folder ------------------------------------------


def _corrupt(path: Path, mode: str) -> bytes | None:
    """Damage ``path``; returns the bytes left there (None when it is gone or a folder)."""
    data = path.read_bytes()
    if mode == "truncated":
        new = data[: len(data) // 2]
    elif mode == "garbage":
        new = random.Random(path.name).randbytes(max(64, len(data) // 3))
    elif mode == "empty":
        new = b""
    elif mode == "deleted":
        path.unlink()
        return None
    elif mode == "a folder":
        path.unlink()
        path.mkdir()
        (path / "inside.txt").write_text("x")
        return None
    elif mode == "valid JSON of another shape":
        new = b'{"rows": [{"dataset": 1}], "unexpected": [1, 2]}'
    elif mode == "another cell's file":
        siblings = sorted(p for p in path.parent.iterdir() if p != path and p.is_file())
        new = siblings[0].read_bytes()
    else:
        raise ValueError(mode)
    path.write_bytes(new)
    return new


#: Files of a finished run folder (relative paths, from the reference's names).
def _run_files(folder: Path) -> dict[str, str]:
    def first(pattern: str) -> str:
        found = sorted(folder.glob(pattern))
        if not found:
            raise SetupError(f"no {pattern} in the reference run")
        return found[0].relative_to(folder).as_posix()

    return {
        "cells": first("cells/*.json"),
        "models": first("models/*.json"),
        "examples": first("examples/*.pt"),
        "maps": first("maps/*.pt"),
        "per_example": first("per_example/*.csv.gz"),
        "pairs": first("pairs/*.json"),
        "config.json": "config.json",
        "config.toml": "config.toml",
        "methods.json": "methods.json",
        "environment.json": "environment.json",
        "results.json": "results.json",
    }


#: Files the report or a run rewrites from the others: replacing them loses nothing.
DERIVED = (
    "results.json",
    "results.csv",
    "report.md",
    "summary.md",
    "config.toml",
    "methods.json",
    "environment.json",
)


def damaged_run(
    name: str, damage: Callable[[Path], tuple[str, bytes | None]], report_first: bool = True
) -> Result:
    """A copy of the reference run, damaged by ``damage`` (which returns the path it damaged
    and the bytes it left there), then ``report`` and a resume: the rows must come back
    and nothing of the folder may vanish (a damaged file goes to the quarantine)."""
    reference = WORK.reference("pairs")
    folder = WORK.copy_of(reference, name)
    before = hashes(folder)
    relative, left = damage(folder)
    results: list[Result] = []
    if report_first:
        result = cli("report", folder)
        results.append(
            classify_command(result, hints=(Path(relative).name,), folder=folder, what="report")
        )
    results.append(resume(folder, reference))
    after = hashes(folder)
    everything = set(after.values())
    if left and relative not in DERIVED and hashlib.sha256(left).hexdigest() not in everything:
        results.append((DATA_LOST, f"the damaged {relative} was deleted, not quarantined"))
    kept = ("cells", "models", "pairs", "examples", "maps", "per_example", "failed", "notes.txt")
    for path, digest in before.items():
        if path == relative or path.split("/")[0] not in kept:
            continue
        if path not in after and digest not in everything:
            results.append((DATA_LOST, f"{path} vanished (not in the quarantine)"))
    moved = sorted(
        p.name
        for p in (folder / "quarantine").rglob("*")
        if p.is_file() and not p.name.endswith(".reason.json")
    )
    outcome = worst(*results)
    note = f"; quarantined: {', '.join(moved)}" if moved else ""
    return outcome[0], outcome[1] + note + leftovers(folder)


def corruption(kind: str, mode: str, report_first: bool = True) -> Result:
    def damage(folder: Path) -> tuple[str, bytes | None]:
        relative = _run_files(folder)[kind]
        return relative, _corrupt(folder / relative, mode)

    return damaged_run(f"corrupt {kind} {mode}", damage, report_first)


def probes_corrupted_files() -> Iterator[Probe]:
    category = "corrupted files"
    kinds = (
        "cells",
        "models",
        "examples",
        "maps",
        "per_example",
        "pairs",
        "config.json",
        "config.toml",
        "methods.json",
        "environment.json",
        "results.json",
    )
    for kind in kinds:
        for mode in ("truncated", "garbage"):
            yield Probe(
                f"{kind} {mode}, then report and resume",
                category,
                lambda kind=kind, mode=mode: corruption(kind, mode),
                2 * CLI_SECONDS,
            )
    for kind, mode in (
        ("cells", "empty"),
        ("cells", "deleted"),
        ("cells", "a folder"),
        ("cells", "another cell's file"),
        ("cells", "valid JSON of another shape"),
        ("models", "deleted"),
        ("models", "valid JSON of another shape"),
        ("pairs", "deleted"),
        ("pairs", "valid JSON of another shape"),
        ("maps", "deleted"),
        ("examples", "deleted"),
        ("per_example", "empty"),
        ("config.json", "deleted"),
        ("config.json", "valid JSON of another shape"),
        ("methods.json", "a folder"),
        ("environment.json", "empty"),
    ):
        yield Probe(
            f"{kind} {mode}, then resume",
            category,
            lambda kind=kind, mode=mode: corruption(kind, mode, report_first=False),
            CLI_SECONDS,
        )

    def user_file(folder: Path) -> tuple[str, bytes | None]:
        (folder / "failed").mkdir(exist_ok=True)
        (folder / "failed" / "todo.txt").write_text("buy milk")
        (folder / "notes.txt").write_text("my notes")
        return "failed/todo.txt", b"buy milk"

    def foreign_cell(folder: Path) -> tuple[str, bytes | None]:
        path = folder / "cells" / "other__net__seed9__saliency.json"
        path.write_text('{"rows": []}')
        return "cells/other__net__seed9__saliency.json", path.read_bytes()

    def stale_tmp(folder: Path) -> tuple[str, bytes | None]:
        (folder / "cells" / ".x.json.abc.tmp").write_bytes(b"{half")
        return "cells/.x.json.abc.tmp", None

    def lock_folder(folder: Path) -> tuple[str, bytes | None]:
        (folder / ".lock").unlink(missing_ok=True)
        (folder / ".lock").mkdir()
        return ".lock", None

    def holder_garbage(folder: Path) -> tuple[str, bytes | None]:
        (folder / "lock-holder.json").write_bytes(b"\xff\x00{")
        return "lock-holder.json", None

    def quarantine_file(folder: Path) -> tuple[str, bytes | None]:
        shutil.rmtree(folder / "quarantine", ignore_errors=True)
        (folder / "quarantine").write_text("not a folder")
        relative = _run_files(folder)["cells"]
        return relative, _corrupt(folder / relative, "truncated")

    for name, damage in (
        ("user files in failed/ and the folder", user_file),
        ("a foreign cell file in cells/", foreign_cell),
        ("a stale .tmp file in cells/", stale_tmp),
        (".lock is a folder", lock_folder),
        ("lock-holder.json garbage", holder_garbage),
        ("quarantine/ is a file, and a cell truncated", quarantine_file),
    ):
        yield Probe(
            name,
            category,
            lambda name=name, damage=damage: damaged_run(name, damage),
            2 * CLI_SECONDS,
        )

    def cache_damage(mode: str) -> Result:
        reference = WORK.reference("pairs")
        cache = WORK.folder(f"cache {mode}") / "cache"
        shutil.copytree(WORK.cache, cache)
        entries = sorted(cache.glob("*.pt"))
        if not entries:
            raise SetupError("no checkpoint in the cache")
        others = {p.name: p.read_bytes() for p in sorted(cache.iterdir())[1:] if p.is_file()}
        if mode == "json garbage":
            target = entries[0].with_suffix(".json")
            target.write_bytes(b"\x00garbage")
        else:
            _corrupt(entries[0], mode)
        folder = cache.parent / "run"
        result = resume(folder, reference, cache=cache)
        lost = [n for n, data in others.items() if (cache / n).is_file() is False]
        if lost:
            result = worst(result, (DATA_LOST, f"cache entries vanished: {lost}"))
        return result

    for mode in ("truncated", "garbage", "json garbage"):
        yield Probe(
            f"checkpoint cache {mode}, then a run",
            category,
            lambda mode=mode: cache_damage(mode),
            CLI_SECONDS,
        )


# --- 4. SIGKILL at chosen points, then resume ---------------------------------------------


def kill_and_resume(mode: str, at: int, fresh_cache: bool = False) -> Result:
    reference = WORK.reference("single")
    probe = WORK.folder(f"kill {mode} {at}")
    out, state = probe / "run", probe / "state"
    state.mkdir()
    cache = probe / "cache" if fresh_cache else WORK.cache
    result = cli_subprocess(
        [
            "run",
            "--config",
            reference.config,
            "--output",
            out,
            "--cache-dir",
            cache,
            "--no-progress",
        ],
        env={"FI_MODE": mode, "FI_AT": str(at), "FI_STATE": str(state)},
    )
    if result is None:
        return HANG, f"the run to be killed at {mode} {at} did not end"
    killed = result.code == -signal.SIGKILL
    where = {"kill-mid-write": f"half-way through atomic write #{at}",
             "kill-after-write": f"right after atomic write #{at}",
             "kill-in-metric": f"at metric call #{at}",
             "kill-in-fit": "in training"}[mode]  # fmt: skip
    note = f"killed {where}" if killed else f"not killed (exit {result.code}: {result.said()})"
    if not killed and result.code != 0:
        return classify_command(result, folder=out, what="run to kill")
    outcome = resume(out, reference, cache=cache)
    return outcome[0], f"{note}; {outcome[1]}{leftovers(out) if out.exists() else ''}"


def probes_kill() -> Iterator[Probe]:
    category = "kill and resume"

    def planned() -> list[tuple[str, int]]:
        reference = WORK.reference("single")
        rng = random.Random(21)
        writes = sorted(rng.sample(range(1, reference.writes + 1), 3))
        points = [("kill-mid-write", w) for w in writes[:2]]
        points.append(("kill-after-write", writes[2]))
        points.append(("kill-in-metric", rng.randint(1, max(1, reference.metric_calls))))
        return points

    for index in range(4):

        def run(index: int = index) -> Result:
            mode, at = planned()[index]
            return kill_and_resume(mode, at)

        yield Probe(
            f"SIGKILL at point {index + 1} of 4 (seeded), then resume",
            category,
            run,
            SUBPROCESS_SECONDS + CLI_SECONDS,
        )
    yield Probe(
        "SIGKILL while training (fresh cache), then resume",
        category,
        lambda: kill_and_resume("kill-in-fit", 1, fresh_cache=True),
        SUBPROCESS_SECONDS + CLI_SECONDS,
    )


# --- 5. two processes on one folder and one cache -----------------------------------------


def _wait(condition: Callable[[], bool], seconds: float = 200.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Holder:
    """A run in a subprocess into ``x`` with a fresh cache, held inside training (so it
    holds the run folder's lock and the cache entry's lock) until released."""

    def __init__(self) -> None:
        self.reference = WORK.reference("single")
        root = WORK.folder("concurrent")
        self.x, self.state, self.cache = root / "x", root / "state", root / "cache"
        self.root = root
        self.state.mkdir()
        self.log = (root / "holder.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(WORK.worker),
                "run",
                "--config",
                str(self.reference.config),
                "--output",
                str(self.x),
                "--cache-dir",
                str(self.cache),
                "--no-progress",
            ],
            cwd=WORK.root,
            env={**os.environ, "FI_MODE": "hold-in-fit", "FI_STATE": str(self.state)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not _wait(lambda: any(self.state.glob("training-*")) or self.process.poll() is not None):
            self.stop()
            raise SetupError("the holding run did not reach training")
        if self.process.poll() is not None:
            raise SetupError(f"the holding run exited {self.process.returncode}")

    def release(self) -> None:
        (self.state / "release").touch()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


def probes_concurrency() -> Iterator[Probe]:
    category = "concurrency"
    holder: dict[str, Holder] = {}

    def get() -> Holder:
        return WORK.shared("holder", lambda: holder.setdefault("h", Holder()))

    def second_run() -> Result:
        h = get()
        result = cli(
            "run",
            "--config",
            h.reference.config,
            "--output",
            h.x,
            "--cache-dir",
            h.root / "other-cache",
            "--no-progress",
        )
        outcome = classify_command(result, ok=(), hints=(str(h.process.pid),))
        if outcome[0] == CLEAR and result.code != 5:
            return UNCLEAR, f"exit {result.code}, not 5: {result.said()}"
        return outcome

    def report_meanwhile() -> Result:
        h = get()
        return classify_command(cli("report", h.x), ok=(0,), hints=("x",))

    def stopped_holder() -> Result:
        h = get()
        os.kill(h.process.pid, signal.SIGSTOP)
        try:
            os.environ["COMPARISONS_CACHE_WAIT_SECONDS"] = "3"
            result = cli(
                "run",
                "--config",
                h.reference.config,
                "--output",
                h.root / "y2",
                "--cache-dir",
                h.cache,
                "--no-progress",
            )
        finally:
            os.environ["COMPARISONS_CACHE_WAIT_SECONDS"] = "120"
            os.kill(h.process.pid, signal.SIGCONT)
        outcome = classify_command(result, ok=(), hints=(str(h.process.pid),))
        if outcome[0] == CLEAR and result.code != 5:
            return UNCLEAR, f"exit {result.code}, not 5: {result.said()}"
        return outcome

    def shared_cache() -> Result:
        h = get()
        timer = threading.Timer(3.0, h.release)
        timer.start()
        try:
            result = cli(
                "run",
                "--config",
                h.reference.config,
                "--output",
                h.root / "y",
                "--cache-dir",
                h.cache,
                "--no-progress",
            )
        finally:
            timer.cancel()
            h.release()
        try:
            code = h.process.wait(timeout=SUBPROCESS_SECONDS)
        except subprocess.TimeoutExpired:
            h.stop()
            return HANG, "the holding run did not finish after release"
        h.log.close()
        holder_text = (h.root / "holder.log").read_text()
        outcomes = [
            classify_command(result, what="second run"),
            classify_command(Command(code, holder_text), what="first run"),
            compare_rows(h.x, h.reference, "first run's rows"),
            compare_rows(h.root / "y", h.reference, "second run's rows"),
        ]
        records = []
        for folder in (h.x, h.root / "y"):
            for path in sorted((folder / "models").glob("*.json")):
                records.append(json.loads(path.read_text())["training"].get("from_cache"))
        if sorted(records) != [False, True]:
            outcomes.append((UNCLEAR, f"from_cache {records}: the model was not trained once"))
        return worst(*outcomes)

    try:
        yield Probe(
            "a second run into a folder a run holds (exit 5)",
            category,
            second_run,
            CLI_SECONDS + 200,
        )
        yield Probe("report of a folder a run holds", category, report_meanwhile, CLI_SECONDS)
        yield Probe(
            "a cache entry held by a stopped process (3 s bound)",
            category,
            stopped_holder,
            CLI_SECONDS,
        )
        yield Probe(
            "two runs sharing one cache train the model once",
            category,
            shared_cache,
            CLI_SECONDS + SUBPROCESS_SECONDS,
        )
    finally:
        if "h" in holder:
            holder["h"].stop()


# --- 6. read-only folders and full disks ----------------------------------------------------


@contextlib.contextmanager
def refused(folder: Path, code: int = errno.EACCES) -> Iterator[None]:
    """``folder`` acts as read-only (or full): creating anything under it fails."""
    real_open, real_mkdir = os.open, os.mkdir
    prefix = str(folder)

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(prefix) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).startswith(prefix):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    os.open, os.mkdir = guarded_open, guarded_mkdir
    try:
        yield
    finally:
        os.open, os.mkdir = real_open, real_mkdir


@contextlib.contextmanager
def full_disk_at(matches: Callable[[Path], bool], code: int = errno.ENOSPC) -> Iterator[list]:
    """Writes of a path ``matches`` accepts stop half-way with ``code``."""
    import comparisons._atomic as atomic

    real = atomic._write_atomically
    hit: list[Path] = []

    def write(path: Any, writer: Any) -> None:
        if not matches(Path(path)):
            return real(path, writer)
        hit.append(Path(path))

        def half(stream: Any) -> None:
            stream.write(b"\x00" * 16)
            raise OSError(code, os.strerror(code))

        return real(path, half)

    atomic._write_atomically = write
    try:
        yield hit
    finally:
        atomic._write_atomically = real


def probes_unwritable() -> Iterator[Probe]:
    category = "read-only and full disks"

    def run_args(config: Path, out: Path, cache: Path | None = None) -> list[Any]:
        return [
            "run",
            "--config",
            config,
            "--output",
            out,
            "--cache-dir",
            cache or WORK.cache,
            "--no-progress",
        ]

    def read_only_output() -> Result:
        reference = WORK.reference("single")
        out = WORK.folder("read-only output") / "out"
        out.mkdir()
        with refused(out):
            result = cli(*run_args(reference.config, out))
        outcome = classify_command(result, ok=(), hints=(str(out),))
        if list(out.iterdir()):
            return worst(outcome, (DATA_LOST, f"wrote {sorted(out.iterdir())[0].name}"))
        return outcome

    def read_only_report() -> Result:
        reference = WORK.reference("pairs")
        folder = WORK.copy_of(reference, "read-only report")
        before = hashes(folder)
        with refused(folder):
            result = cli("report", folder)
        outcome = classify_command(result, ok=(), hints=("report", "summary", "results"))
        if ".tmp" in result.said():
            outcome = worst(outcome, (UNCLEAR, f"names a temporary file: {result.said()}"))
        if hashes(folder) != before:
            outcome = worst(outcome, (DATA_LOST, "the read-only folder changed"))
        return outcome

    def read_only_cache() -> Result:
        reference = WORK.reference("single")
        probe = WORK.folder("read-only cache")
        cache = probe / "cache"
        cache.mkdir()
        import comparisons.training._train_model as train_module

        unwritable = getattr(train_module, "_UNWRITABLE_CACHES", None)
        if isinstance(unwritable, set):
            unwritable.clear()
        with refused(cache):
            result = cli(*run_args(reference.config, probe / "out", cache))
        outcome = classify_command(result, folder=probe / "out")
        if outcome[0] == HANDLED and str(cache) not in result.text:
            outcome = UNCLEAR, "exit 0 but no warning names the read-only cache"
        return worst(outcome, compare_rows(probe / "out", reference))

    def full_at(
        name: str,
        matches: Callable[[Path, Path], bool],
        ok: tuple[int, ...],
        then_resume: bool,
        code: int = errno.ENOSPC,
        fresh_cache: bool = False,
    ) -> Result:
        reference = WORK.reference("single")
        probe = WORK.folder(name)
        out = probe / "out"
        cache = probe / "cache" if fresh_cache else None
        with full_disk_at(lambda p: matches(p, out), code) as hit:
            result = cli(*run_args(reference.config, out, cache))
        if not hit:
            return PROBE_ERROR, "no write matched the fault"
        outcome = classify_command(result, ok=ok, hints=(hit[0].name,), folder=out)
        if then_resume:
            outcome = worst(outcome, resume(out, reference))
        return outcome[0], outcome[1] + leftovers(out)

    def full_report(which: str) -> Result:
        reference = WORK.reference("pairs")
        folder = WORK.copy_of(reference, f"full disk at {which}")
        before = hashes(folder)
        if which == "report.md":
            target = folder / "report.md"
        else:
            target = sorted((folder / "figures").glob("*.png"))[0]
        with full_disk_at(lambda p: p == target):
            result = cli("report", folder)
        outcome = classify_command(result, ok=(), hints=(target.name,))
        kept = hashes(folder)
        changed = [
            p
            for p in ("report.md", target.relative_to(folder).as_posix())
            if kept.get(p) != before.get(p)
        ]
        if changed:
            outcome = worst(outcome, (DATA_LOST, f"the previous {changed[0]} was lost"))
        return outcome[0], outcome[1] + leftovers(folder)

    def read_error() -> Result:
        reference = WORK.reference("pairs")
        folder = WORK.copy_of(reference, "EIO reading a cell")
        target = str(folder / _run_files(folder)["cells"])
        import builtins

        real_path_open, real_open, hits = Path.open, builtins.open, []

        def failing(path: Any) -> None:
            if os.fspath(path) == target:
                hits.append(path)
                raise OSError(errno.EIO, os.strerror(errno.EIO), target)

        def path_open(self: Path, *args: Any, **kwargs: Any) -> Any:
            failing(self)
            return real_path_open(self, *args, **kwargs)

        def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, Path)):
                failing(file)
            return real_open(file, *args, **kwargs)

        Path.open, builtins.open = path_open, open_
        try:
            result = cli("report", folder)
        finally:
            Path.open, builtins.open = real_path_open, real_open
        if not hits:
            return PROBE_ERROR, "the report read the cell without open() or Path.open()"
        return classify_command(result, ok=(0,), hints=(Path(target).name,), folder=folder)

    def read_only_merge() -> Result:
        reference = WORK.reference("pairs")
        out = WORK.folder("read-only merge") / "merged"
        out.mkdir()
        with refused(out):
            result = cli("merge", "--output", out, reference.path)
        return classify_command(result, ok=(), hints=(str(out),))

    def dev_null() -> Result:
        reference = WORK.reference("single")
        result = cli(*run_args(reference.config, Path("/dev/null")))
        return classify_command(result, ok=(), hints=("/dev/null",))

    cell_name = lambda p, out: p.parent == out / "cells" and "gradcam" in p.name  # noqa: E731
    for name, run in (
        ("a read-only output folder: run", read_only_output),
        ("a read-only run folder: report", read_only_report),
        ("a read-only cache: run", read_only_cache),
        (
            "a full disk writing a cell, then resume",
            lambda: full_at("full disk cell", cell_name, (1,), True),
        ),
        (
            "a full disk writing models/*.json",
            lambda: full_at(
                "full disk model", lambda p, out: p.parent == out / "models", (), False
            ),
        ),
        (
            "quota exceeded writing config.json",
            lambda: full_at(
                "quota config", lambda p, out: p == out / "config.json", (), False, errno.EDQUOT
            ),
        ),
        (
            "a full disk writing lock-holder.json",
            lambda: full_at(
                "full disk holder", lambda p, out: p == out / "lock-holder.json", (), False
            ),
        ),
        (
            "a full disk writing the cache checkpoint",
            lambda: full_at(
                "full disk cache",
                lambda p, out: p.suffix == ".pt" and p.parent.name == "cache",
                (0,),
                True,
                fresh_cache=True,
            ),
        ),
        (
            "a full disk writing results.csv",
            lambda: full_at("full disk results", lambda p, out: p == out / "results.csv", (), True),
        ),
        ("a full disk writing report.md", lambda: full_report("report.md")),
        ("a full disk writing a figure", lambda: full_report("figure")),
        ("EIO reading a cell during report", read_error),
        ("a read-only merge output", read_only_merge),
        ("--output /dev/null", dev_null),
    ):
        yield Probe(name, category, run, 2 * CLI_SECONDS)


# --- 7. untrusted data ------------------------------------------------------------------------


def _png_bomb(path: Path, width: int = 200_000, height: int = 200_000) -> None:
    """A valid 1x1 PNG whose header declares ``width`` x ``height``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    start = 8  # signature; then length(4) b"IHDR" data(13) crc(4)
    assert data[start + 4 : start + 8] == b"IHDR"
    data[start + 8 : start + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[start + 4 : start + 21])) & 0xFFFFFFFF
    data[start + 21 : start + 25] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def _npy_header(handle: Any, shape: tuple[int, ...]) -> None:
    """A float64 ``.npy`` header declaring ``shape``, then 16 bytes of data."""
    import numpy as np

    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(handle, header)
    handle.write(b"\x00" * 16)


def _object_npy(path: Path, marker: Path) -> None:
    import numpy as np

    array = np.empty(2, dtype=object)
    array[0], array[1] = Payload(marker), Payload(marker)
    np.save(path, array, allow_pickle=True)


def _image_folder(root: Path, bad_name: str | None = None) -> Path:
    from tests._own_fixtures import write_png_folder

    write_png_folder(root, per_class=4)
    return root / "benign" / bad_name if bad_name else root


def _dataset_load(name: str, **options: Any) -> Callable[[], Any]:
    def load() -> Any:
        from comparisons.datasets import load_dataset

        return load_dataset(name, **options)

    return load


def untrusted_file(kind: str) -> Result:
    """One bad file among good ones, loaded as the harness loads a user's dataset."""
    folder = WORK.folder(f"untrusted {kind}")
    marker = WORK.marker(f"untrusted-{kind}".replace(" ", "-"))
    root = folder / "images"
    if kind == "PNG decompression bomb":
        bad = _image_folder(root, "bomb.png")
        _png_bomb(bad)
        load = _dataset_load("image-folder", root=str(root))
    elif kind == "PNG bomb in a CSV manifest":
        _image_folder(root)
        _png_bomb(folder / "bomb.png")
        rows = [{"path": str(p), "label": p.parent.name} for p in sorted(root.rglob("*.png"))]
        rows.append({"path": str(folder / "bomb.png"), "label": "benign"})
        from tests._own_fixtures import write_manifest

        manifest = write_manifest(folder / "labels.csv", rows)
        load = _dataset_load("csv", manifest=str(manifest))
        bad = folder / "bomb.png"
    elif kind == "huge .npy header":
        bad = _image_folder(root, "huge.npy")
        with bad.open("wb") as handle:
            _npy_header(handle, (100_000, 100_000))
        load = _dataset_load("image-folder", root=str(root))
    elif kind == ".npy declaring more than it holds":
        bad = _image_folder(root, "short.npy")
        with bad.open("wb") as handle:
            _npy_header(handle, (64, 64))
        load = _dataset_load("image-folder", root=str(root))
    elif kind == "object-dtype .npy with a pickle":
        bad = _image_folder(root, "object.npy")
        _object_npy(bad, marker)
        load = _dataset_load("image-folder", root=str(root))
    elif kind == "a FIFO named .png":
        bad = _image_folder(root, "pipe.png")
        os.mkfifo(bad)
        load = _dataset_load("image-folder", root=str(root))
    elif kind == "a symlink loop in a class folder":
        _image_folder(root)
        bad = root / "benign" / "loop"
        bad.symlink_to(root / "benign", target_is_directory=True)
        load = _dataset_load("image-folder", root=str(root))
    elif kind == "a .png that is text":
        bad = _image_folder(root, "text.png")
        bad.write_text("not an image")
        load = _dataset_load("image-folder", root=str(root))
    elif kind in ("medmnist object array", "medmnist huge header"):
        import numpy as np

        bad = folder / "pneumoniamnist.npz"
        good = {
            f"{s}_{k}": (
                np.zeros((4, 28, 28), np.uint8)
                if k == "images"
                else np.array([[0], [1], [0], [1]], np.uint8)
            )
            for s in ("train", "val", "test")
            for k in ("images", "labels")
        }
        if kind == "medmnist object array":
            array = np.empty(2, dtype=object)
            array[0] = array[1] = Payload(marker)
            good["train_images"] = array
            np.savez(bad, **good)
        else:
            np.savez(bad, **good)
            import zipfile

            header = io.BytesIO()
            _npy_header(header, (100_000, 100_000, 28))
            with zipfile.ZipFile(bad, "a") as archive:
                archive.writestr("val_images.npy", header.getvalue())
        load = _dataset_load("medmnist", path=str(bad))
    elif kind == "NIfTI huge header":
        bad = _nifti_fixture(folder)
        load = _dataset_load("nifti", manifest=str(folder / "volumes.csv"))
    elif kind == "DICOM huge header":
        bad = _dicom_fixture(folder)
        load = _dataset_load("dicom", root=str(folder / "dicom"))
    else:
        raise ValueError(kind)
    ignored = kind in ("a FIFO named .png", "a symlink loop in a class folder")

    def count(dataset: Any) -> str:  # a file the loader ignores is not read as an image
        total = sum(len(split) for split in (dataset.train, dataset.val, dataset.test))
        return "" if total == 8 else f"{total} images, not the 8 PNG files"

    result = library_call(load, hints=(bad.name,), accept=ignored, check=count)
    if marker.exists():
        return worst(result, (CODE_EXECUTED, f"{marker.name} created by a pickle in {bad.name}"))
    return result


def _nifti_fixture(folder: Path) -> Path:
    import nibabel as nib
    import numpy as np

    rows = []
    for label in (0, 1):
        for index in range(3):
            path = folder / f"v{label}{index}.nii"
            data = np.random.default_rng(10 * label + index).random((8, 8, 8)).astype(np.float32)
            nib.save(nib.Nifti1Image(data, np.eye(4)), path)
            rows.append({"path": str(path), "label": str(label)})
    bad = folder / "huge.nii"
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header.set_data_shape((4096, 4096, 4096))
    header["vox_offset"] = 352
    bad.write_bytes(header.binaryblock + b"\x00" * 4 + b"\x00" * 64)
    rows.append({"path": str(bad), "label": "0"})
    from tests._own_fixtures import write_manifest

    write_manifest(folder / "volumes.csv", rows)
    return bad


def _dicom_fixture(folder: Path) -> Path:
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    def write(path: Path, rows: int, columns: int, pixels: bytes, frames: int = 1) -> None:
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\x00" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.Rows, ds.Columns = rows, columns
        if frames > 1:
            ds.NumberOfFrames = frames
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = pixels
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(str(path), enforce_file_format=True)

    for label in ("a", "b"):
        for index in range(4):
            pixels = np.random.default_rng(index).integers(0, 900, (8, 8)).astype(np.uint16)
            write(folder / "dicom" / label / f"{index}.dcm", 8, 8, pixels.tobytes())
    bad = folder / "dicom" / "a" / "huge.dcm"
    write(bad, 65535, 65535, b"\x00" * 16, frames=100)
    return bad


def weights_probe(kind: str) -> Result:
    """A model's weights file that runs code when unpickled, through ``run --check``."""
    import torch

    folder = WORK.folder(f"weights {kind}")
    marker = WORK.marker(f"weights-{kind}".replace(" ", "-"))
    data = WORK.small()
    weights = folder / "weights.pt"
    trust = kind.endswith("with trust_pickle")
    if kind.startswith("a pickle payload"):
        torch.save(Payload(marker), weights)
    elif kind.startswith("a TorchScript"):
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), weights)
    elif kind == "a safetensors file with a huge header":
        weights = folder / "weights.safetensors"
        weights.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    elif kind == "a text file":
        weights.write_text("not weights")
    else:
        raise ValueError(kind)
    data["models"][0]["weights"] = str(weights)
    data["models"][0].pop("training", None)
    if trust:
        data["models"][0]["trust_pickle"] = True
    config = WORK.toml(f"weights-{len(kind)}-{trust}", data)
    result = cli("run", "--check", "--config", config, "--output", folder / "out")
    outcome = classify_command(result, ok=(), hints=(weights.name, "trust_pickle"))
    if marker.exists():
        if trust and _documented("trust_pickle = true"):
            return HANDLED, f"the pickle ran with trust_pickle = true (documented); {outcome[1]}"
        return worst(outcome, (CODE_EXECUTED, f"{marker.name} created by the weights' pickle"))
    return outcome


def _documented(phrase: str) -> bool:
    """Whether docs/own-model.md says a config's factory (or trust_pickle) runs code."""
    page = (REPO / "docs" / "own-model.md").read_text()
    return "A config is code" in page and phrase in page


def config_code_probe(kind: str) -> Result:
    """Config values that could name code to run."""
    folder = WORK.folder(f"config code {kind}")
    marker = WORK.marker(f"config-{kind}".replace(" ", "-").replace("'", ""))
    data = WORK.small()
    documented = False
    if kind == "factory = 'builtins:open' (documented)":
        data["models"][0] = {
            "name": "mine",
            "factory": "builtins:open",
            "options": {"file": str(marker), "mode": "w"},
        }
        documented = _documented("factory")
    elif kind == "zoo = 'builtins:open'":
        data["models"][0] = {
            "name": "mine",
            "zoo": "builtins:open",
            "options": {"file": str(marker), "mode": "w"},
        }
    elif kind == "zoo = 'torchvision:..' with a path-like name":
        data["models"][0] = {
            "name": "mine",
            "zoo": "torchvision:../../builtins:open",
            "options": {"file": str(marker), "mode": "w"},
        }
    elif kind == "reshape_transform = 'builtins:open'":
        data["methods"]["options"] = {"gradcam": {"reshape_transform": "builtins:open"}}
    elif kind == "preprocessing values that are module paths":
        data["models"][0]["preprocessing"] = {"mean": "builtins:open", "std": str(marker)}
    elif kind == "dataset root '$(touch marker)'":
        data["datasets"][0] = {"name": "image-folder", "options": {"root": f"$(touch {marker})"}}
    else:
        raise ValueError(kind)
    try:
        config = WORK.toml(f"code-{abs(hash(kind)) % 10**6}", data)
    except (ValueError, TypeError) as error:
        outcome = classify_error(error)
    else:
        result = cli("run", "--check", "--config", config, "--output", folder / "out")
        outcome = classify_command(result, ok=(), hints=())
    if marker.exists():
        if documented:
            return HANDLED, f"the factory ran (documented: 'A config is code'); {outcome[1]}"
        return worst(outcome, (CODE_EXECUTED, f"{marker.name} created by the config"))
    return outcome


def run_folder_code_probe(kind: str) -> Result:
    """A run folder from someone else, crafted to run code when read by report or merge."""
    import torch

    reference = WORK.reference("pairs")
    folder = WORK.copy_of(reference, f"crafted folder {kind}")
    marker = WORK.marker(f"folder-{kind}".replace(" ", "-").replace("/", "-"))
    files = _run_files(folder)
    command: tuple[Any, ...] = ("report", folder)
    ok: tuple[int, ...] = (0,)
    if kind in ("examples/*.pt", "maps/*.pt"):
        path = folder / files["examples" if kind.startswith("examples") else "maps"]
        torch.save({"inputs": Payload(marker)}, path)
    elif kind in ("config.json factory, report", "config.json factory, merge"):
        for name in ("config.json",):
            content = json.loads((folder / name).read_text())
            models = content.get("config", content).get("models", [])
            for model in models:
                model["factory"] = "builtins:open"
                model["options"] = {"file": str(marker), "mode": "w"}
            (folder / name).write_text(json.dumps(content))
        text = (folder / "config.toml").read_text()
        (folder / "config.toml").write_text(
            text.replace(
                'name = "shallow-cnn"',
                f'name = "shallow-cnn"\nfactory = '
                f'"builtins:open"\noptions = {{ file = "{marker}", mode = "w" }}',
                1,
            )
        )
        if kind.endswith("merge"):
            command = ("merge", "--output", folder.parent / "merged", folder)
            ok = (0, 2)
    elif kind == "a cache checkpoint":
        cache = folder.parent / "cache"
        shutil.copytree(WORK.cache, cache)
        for entry in sorted(cache.glob("*.pt")):
            torch.save(Payload(marker), entry)
        command = (
            "run",
            "--config",
            reference.config,
            "--output",
            folder.parent / "new",
            "--cache-dir",
            cache,
            "--no-progress",
        )
    else:
        raise ValueError(kind)
    result = cli(*command)
    outcome = classify_command(result, ok=ok, folder=folder)
    if marker.exists():
        return worst(outcome, (CODE_EXECUTED, f"{marker.name} created while reading {kind}"))
    return outcome


def probes_untrusted() -> Iterator[Probe]:
    category = "untrusted data"
    for kind in (
        "PNG decompression bomb",
        "PNG bomb in a CSV manifest",
        "huge .npy header",
        ".npy declaring more than it holds",
        "object-dtype .npy with a pickle",
        "a FIFO named .png",
        "a symlink loop in a class folder",
        "a .png that is text",
        "medmnist object array",
        "medmnist huge header",
        "NIfTI huge header",
        "DICOM huge header",
    ):
        yield Probe(f"dataset: {kind}", category, lambda kind=kind: untrusted_file(kind), 30)
    for kind in (
        "a pickle payload without trust_pickle",
        "a pickle payload with trust_pickle",
        "a TorchScript file without trust_pickle",
        "a safetensors file with a huge header",
        "a text file",
    ):
        yield Probe(
            f"weights: {kind}", category, lambda kind=kind: weights_probe(kind), CLI_SECONDS
        )
    for kind in (
        "factory = 'builtins:open' (documented)",
        "zoo = 'builtins:open'",
        "zoo = 'torchvision:..' with a path-like name",
        "reshape_transform = 'builtins:open'",
        "preprocessing values that are module paths",
        "dataset root '$(touch marker)'",
    ):
        yield Probe(
            f"config: {kind}", category, lambda kind=kind: config_code_probe(kind), CLI_SECONDS
        )
    for kind in (
        "examples/*.pt",
        "maps/*.pt",
        "config.json factory, report",
        "config.json factory, merge",
        "a cache checkpoint",
    ):
        yield Probe(
            f"crafted run folder: {kind}",
            category,
            lambda kind=kind: run_folder_code_probe(kind),
            2 * CLI_SECONDS,
        )


# --- 8. degenerate statistics -----------------------------------------------------------------


def _tensors(n: int = 12, classes: int = 3, seed: int = 0) -> tuple[Any, Any]:
    import torch

    images = _images(n, seed=seed).sigmoid()
    return images, torch.arange(n) % classes


def _compare(name: str, model: Any, data: Any, *, output: bool = True, **kwargs: Any) -> Any:
    from comparisons import compare

    options = {
        "methods": ["saliency", "gradcam"],
        "metrics": ["deletion-auc"],
        "eval_examples": 6,
        "value_range": (0.0, 1.0),
        "metric_options": {"deletion-auc": {"steps": 4}},
    }
    options.update(kwargs)
    out = WORK.folder(name) / "out" if output else None
    return compare(model, data, output=out, **options), out


def degenerate(name: str, make: Callable[[], tuple[Any, Any, dict]]) -> Result:
    """A comparison that runs, on data or a model that makes statistics degenerate: the
    report must be written and say what it could not compute."""
    model, data, kwargs = make()
    holder: list[Any] = []

    def call() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            holder.append(_compare(name, model, data, **kwargs))
        return holder[-1][0]

    tensors = list(data) if isinstance(data, tuple) else []
    outcome = library_call(call, model=model, tensors=tensors, accept=True)
    if not holder:
        return outcome
    rows, out = holder[0]
    report = out / "report.md"
    if not report.is_file():
        return worst(outcome, (TRACEBACK, "no report.md written"))
    text = report.read_text()
    notes = f"{len(rows)} rows, report.md {len(text)} chars"
    failed = sorted((out / "failed").glob("*.txt")) if (out / "failed").exists() else []
    if failed:
        method = failed[0].stem.split("__")[-1]
        lines = failed[0].read_text(errors="replace").strip().splitlines() or [""]
        reason = lines[-1].split(": ", 1)[-1][:40]
        if method not in text or reason not in text:
            return worst(
                outcome,
                (
                    UNCLEAR,
                    f"{len(failed)} failed cells ({method}): the report "
                    f"does not give the reason ({reason!r})",
                ),
            )
        notes += f"; {len(failed)} failed cells named in the report with their reason"
    return outcome[0], f"{outcome[1]}; {notes}"


def probes_degenerate() -> Iterator[Probe]:
    import torch

    category = "degenerate statistics"

    def one_image() -> tuple:
        return (
            _model(),
            _tensors(),
            {"eval_examples": 1, "metrics": ["deletion-auc", "contrastive-perturbation"]},
        )

    def one_class() -> tuple:
        images, labels = _tensors()
        return (
            _model(),
            (images, labels * 0),
            {
                "class_names": ["a", "b", "c"],
                "metrics": ["deletion-auc", "contrastive-perturbation"],
            },
        )

    def constant_maps() -> tuple:
        model = _model()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.zero_()
        return (
            model,
            _tensors(),
            {
                "methods": ["saliency", "ifim-sensitive"],
                "metrics": ["deletion-auc", "contrastive-perturbation"],
            },
        )

    def constant_images() -> tuple:
        images, labels = _tensors()
        return _model(), (images * 0 + 0.5, labels), {}

    def two_images() -> tuple:
        images, labels = _tensors(2, 2)
        return _model(), (images, labels), {"eval_examples": 2, "class_names": ["a", "b", "c"]}

    def three_seeds() -> tuple:
        return (
            _model(),
            _tensors(),
            {
                "seeds": [0, 1, 2],
                "eval_examples": 3,
                "metrics": ["deletion-auc", "contrastive-perturbation"],
            },
        )

    def failing_method() -> tuple:
        return _in_place_model(), _tensors(), {"methods": ["saliency", "deepshap"]}

    def nan_logits() -> tuple:
        return _nan_model(), _tensors(), {}

    for name, make in (
        ("one evaluated image", one_image),
        ("all test images of one class", one_class),
        ("constant maps (a zero model)", constant_maps),
        ("constant images", constant_images),
        ("two images", two_images),
        ("three seeds of three images", three_seeds),
        ("a method failing in every cell", failing_method),
        ("a model returning NaN logits", nan_logits),
    ):
        yield Probe(
            f"compare: {name}",
            category,
            lambda name=name, make=make: degenerate(name, make),
            CLI_SECONDS,
        )

    def cli_one_image() -> Result:
        WORK.reference("pairs")
        config = WORK.toml("one-image", WORK.small(eval_examples=1))
        out = WORK.folder("cli one image") / "out"
        result = cli(
            "run", "--config", config, "--output", out, "--cache-dir", WORK.cache, "--no-progress"
        )
        outcome = classify_command(result, folder=out)
        if not (out / "report.md").is_file():
            return worst(outcome, (TRACEBACK, "no report.md"))
        return outcome

    yield Probe("run: eval_examples = 1 (the issue's case)", category, cli_one_image, CLI_SECONDS)


def _in_place_model() -> Any:
    from torch import nn

    class InPlace(nn.Module):
        """DeepSHAP cannot attribute it (an in-place add on a module's output)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.norm = nn.BatchNorm2d(4)
            self.residual = nn.Conv2d(4, 4, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(4, 3)

        def forward(self, x: Any) -> Any:
            if x.shape[1] != 1:
                raise ValueError("expected 1 channel")
            hidden = self.norm(self.conv(x))
            hidden += self.residual(hidden.relu())
            return self.head(self.pool(hidden.relu()).flatten(1))

    import torch

    torch.manual_seed(0)
    return InPlace().eval()


def _nan_model() -> Any:
    from torch import nn

    class NaNModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.head = nn.Linear(4, 3)

        def forward(self, x: Any) -> Any:
            out = self.head(self.conv(x).mean((2, 3)))
            return out * float("nan")

    import torch

    torch.manual_seed(0)
    return NaNModel().eval()


# --- 9. compare() misuse ----------------------------------------------------------------------


def probes_compare() -> Iterator[Probe]:
    import numpy as np
    import torch

    category = "compare() misuse"

    def misuse(
        model: Callable[[], Any],
        data: Callable[[], Any],
        valid: bool = False,
        hints: tuple[str, ...] = (),
        output: Any = None,
        **kwargs: Any,
    ) -> Callable[[], Result]:
        def run() -> Result:
            from comparisons import compare

            net, given = model(), data()
            options = {
                "methods": ["saliency"],
                "metrics": ["deletion-auc"],
                "eval_examples": 4,
                "metric_options": {"deletion-auc": {"steps": 4}},
            }
            options.update(kwargs)
            out = output() if callable(output) else output
            tensors = [
                t
                for t in (given if isinstance(given, tuple) else ())
                if isinstance(t, torch.Tensor)
            ]
            before = hashes(out) if isinstance(out, Path) and out.is_dir() else None

            def call() -> Any:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return compare(net, given, output=out, **options)

            outcome = library_call(call, model=net, tensors=tensors, accept=valid, hints=hints)
            if before is not None and hashes(out) != before and outcome[0] != HANDLED:
                outcome = worst(outcome, (DATA_LOST, f"the user's folder {out.name} changed"))
            return outcome

        return run

    def with_nan() -> tuple:
        images, labels = _tensors()
        images[0, 0, 2, 2] = float("nan")
        return images, labels

    def with_inf() -> tuple:
        images, labels = _tensors()
        images[1, 0, 2, 2] = float("inf")
        return images, labels

    def user_folder() -> Path:
        folder = WORK.folder("compare into a user folder") / "mine"
        (folder / "cells").mkdir(parents=True)
        (folder / "report.md").write_text("my notes")
        (folder / "cells" / "important.json").write_text('{"mine": true}')
        return folder

    def a_file() -> Path:
        path = WORK.folder("compare into a file") / "file"
        path.write_text("mine")
        return path

    def meta_model() -> Any:
        return _model().to("meta")

    def double_model() -> Any:
        return _model().double()

    def vector_model() -> Any:
        return torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(SIDE * SIDE, 1), torch.nn.Flatten(0)
        )

    def tuple_model() -> Any:
        class Pair(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = _model()

            def forward(self, x: Any) -> Any:
                out = self.net(x)
                return out, out

        return Pair().eval()

    m, t = _model, _tensors
    cases: list[tuple[str, Callable[[], Result]]] = [
        ("model None", misuse(lambda: None, t, hints=("model",))),
        ("model a function", misuse(lambda: lambda x: x, t, hints=("model",))),
        ("model a string", misuse(lambda: "resnet18", t, hints=("model",))),
        ("model on the meta device", misuse(meta_model, t, hints=("meta",))),
        ("a float64 model", misuse(double_model, t, valid=True)),
        ("a model returning (N,)", misuse(vector_model, t, hints=("logits",))),
        ("a model returning a tuple", misuse(tuple_model, t, hints=("logits",))),
        ("data a list", misuse(m, lambda: list(t()), hints=("data",))),
        ("data a dict", misuse(m, lambda: dict(zip("il", t(), strict=True)), hints=("data",))),
        ("data numpy arrays", misuse(m, lambda: tuple(x.numpy() for x in t()), hints=("data",))),
        ("data a 1-tuple", misuse(m, lambda: t()[:1], hints=("data",))),
        ("data a 4-tuple", misuse(m, lambda: (*t(), t()[0], t()[0]), hints=("data",))),
        ("images int64", misuse(m, lambda: ((t()[0] * 255).long(), t()[1]), hints=("images",))),
        ("images float64", misuse(m, lambda: (t()[0].double(), t()[1]), valid=True)),
        ("images float16", misuse(m, lambda: (t()[0].half(), t()[1]), valid=True)),
        ("images with NaN", misuse(m, with_nan, hints=("images", "NaN"))),
        ("images with inf", misuse(m, with_inf, hints=("images", "inf"))),
        ("images 3-D", misuse(m, lambda: (t()[0][:, 0], t()[1]), hints=("images",))),
        (
            "images of 3 channels",
            misuse(m, lambda: (t()[0].expand(-1, 3, -1, -1), t()[1]), hints=("images", "channel")),
        ),
        ("one image", misuse(m, lambda: (t()[0][:1], t()[1][:1]), hints=("images",))),
        ("images on meta", misuse(m, lambda: (t()[0].to("meta"), t()[1]), hints=("meta",))),
        ("labels float", misuse(m, lambda: (t()[0], t()[1].float()), hints=("labels",))),
        ("labels 2-D", misuse(m, lambda: (t()[0], t()[1][:, None]), hints=("labels",))),
        ("labels out of range", misuse(m, lambda: (t()[0], t()[1] + 5), hints=("labels",))),
        ("labels negative", misuse(m, lambda: (t()[0], t()[1] - 1), hints=("labels",))),
        ("labels too few", misuse(m, lambda: (t()[0], t()[1][:5]), hints=("labels",))),
        (
            "masks of a wrong shape",
            misuse(m, lambda: (*t(), torch.ones(12, 8, 8)), hints=("masks",)),
        ),
        ("masks float", misuse(m, lambda: (*t(), torch.rand(12, SIDE, SIDE)), valid=True)),
        ("value_range (1, 0)", misuse(m, t, value_range=(1.0, 0.0), hints=("value_range",))),
        ("value_range (0, 0)", misuse(m, t, value_range=(0.0, 0.0), hints=("value_range",))),
        ("value_range ('a', 'b')", misuse(m, t, value_range=("a", "b"), hints=("value_range",))),
        ("value_range (0,)", misuse(m, t, value_range=(0.0,), hints=("value_range",))),
        (
            "value_range (NaN, 1)",
            misuse(m, t, value_range=(float("nan"), 1.0), hints=("value_range",)),
        ),
        (
            "value_range excluding the images",
            misuse(m, t, value_range=(5.0, 6.0), hints=("value_range",)),
        ),
        ("methods []", misuse(m, t, methods=[], hints=("methods",))),
        ("methods 'bogus'", misuse(m, t, methods="bogus", hints=("bogus",))),
        ("methods twice", misuse(m, t, methods=["saliency", "saliency"], hints=("saliency",))),
        ("metrics ['bogus']", misuse(m, t, metrics=["bogus"], hints=("bogus",))),
        ("eval_examples 0", misuse(m, t, eval_examples=0, hints=("eval_examples",))),
        ("eval_examples '4'", misuse(m, t, eval_examples="4", hints=("eval_examples",))),
        ("eval_examples 10**9", misuse(m, t, eval_examples=10**9, valid=True)),
        ("seeds []", misuse(m, t, seeds=[], hints=("seeds",))),
        ("seeds ['a']", misuse(m, t, seeds=["a"], hints=("seeds",))),
        ("seeds a number", misuse(m, t, seeds=3, hints=("seeds",))),
        ("device 'tpu0'", misuse(m, t, device="tpu0", hints=("tpu0",))),
        ("device 'cuda:7'", misuse(m, t, device="cuda:7", hints=("cuda",))),
        ("class_names of one class", misuse(m, t, class_names=["a"], hints=("class",))),
        (
            "class_names fewer than the labels",
            misuse(m, t, class_names=["a", "b"], hints=("class", "labels")),
        ),
        ("dataset_name '../x'", misuse(m, t, dataset_name="../x", hints=("dataset",))),
        ("dataset_name ''", misuse(m, t, dataset_name="", hints=("dataset",))),
        ("model_name 'a/b'", misuse(m, t, model_name="a/b", hints=("model",))),
        ("name '../escape'", misuse(m, t, name="../escape", hints=("name",))),
        ("an unknown run option", misuse(m, t, bogus_option=1, hints=("bogus_option",))),
        (
            "method_options for an unlisted method",
            misuse(m, t, method_options={"gradcam": {}}, hints=("gradcam",)),
        ),
        (
            "method_options abs='yes'",
            misuse(m, t, method_options={"saliency": {"abs": "yes"}}, hints=("abs",)),
        ),
        (
            "metric_options steps=0",
            misuse(m, t, metric_options={"deletion-auc": {"steps": 0}}, hints=("steps",)),
        ),
        ("preprocessing size -1", misuse(m, t, preprocessing={"size": -1}, hints=("size",))),
        ("preprocessing unknown key", misuse(m, t, preprocessing={"bogus": 1}, hints=("bogus",))),
        ("output an existing file", misuse(m, t, output=a_file, hints=("file",))),
        (
            "output a folder of user files",
            misuse(m, t, output=user_folder, hints=("mine", "run folder")),
        ),
        (
            "class_names with a dataset",
            misuse(m, lambda: _image_dataset(), hints=("class",), class_names=["a", "b"]),
        ),
        (
            "a numpy float32 scalar as value_range",
            misuse(m, t, value_range=(np.float32(0), np.float32(1)), valid=True),
        ),
    ]
    for name, run in cases:
        yield Probe(f"compare: {name}", category, run, CLI_SECONDS)


def _image_dataset() -> Any:
    folder = WORK.folder("compare image dataset") / "images"
    _image_folder(folder)
    from comparisons.datasets import load_dataset

    return load_dataset("image-folder", root=str(folder))


# --- the pass ---------------------------------------------------------------------------------

CATEGORIES: dict[str, Callable[[], Iterator[Probe]]] = {
    "library: methods": probes_library_methods,
    "library: metrics": probes_library_metrics,
    "configs": probes_configs,
    "corrupted files": probes_corrupted_files,
    "kill and resume": probes_kill,
    "concurrency": probes_concurrency,
    "read-only and full disks": probes_unwritable,
    "untrusted data": probes_untrusted,
    "degenerate statistics": probes_degenerate,
    "compare() misuse": probes_compare,
}


def _on_alarm(signum: int, frame: Any) -> None:
    raise ProbeTimeout


def execute(probe: Probe) -> Record:
    start = time.monotonic()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, probe.timeout)
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            outcome, message = probe.run()
    except ProbeTimeout:
        outcome, message = HANG, f"no answer within {probe.timeout:.0f} s"
    except SetupError as error:
        outcome, message = PROBE_ERROR, f"setup failed: {first_line(str(error))}"
    except Exception as error:
        filename, line = _raise_site(error)
        outcome = PROBE_ERROR
        message = f"{type(error).__name__}: {first_line(str(error))} [{_short(filename)}:{line}]"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return Record(probe.name, probe.category, outcome, time.monotonic() - start, message)


def all_probes(only: list[str]) -> Iterator[Probe]:
    for category, make in CATEGORIES.items():
        if only and not any(word in category for word in only):
            continue
        try:
            yield from make()
        except Exception as error:
            yield Probe(
                f"{category}: generating the probes",
                category,
                lambda error=error: (PROBE_ERROR, f"{type(error).__name__}: {error}"),
            )


def _processor() -> str:
    with contextlib.suppress(Exception):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown processor"


def _git(*args: str) -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30
        ).stdout.strip()
    return ""


def write_tally(output: Path, records: list[Record], seconds: float, only: list[str]) -> None:
    with (output / "probes.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "category", "outcome", "seconds", "message"])
        for r in records:
            writer.writerow([r.name, r.category, r.outcome, f"{r.seconds:.2f}", r.message])
    counts = Counter(r.outcome for r in records)
    categories = list(dict.fromkeys(r.category for r in records))
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    lines = [
        "# Fault-injection pass (issue 21)",
        "",
        f"Commit {_git('rev-parse', '--short', 'HEAD') or '?'}"
        + (f" with {len(dirty.splitlines())} uncommitted changed files" if dirty else "")
        + f"; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{len(records)} probes in {seconds / 60:.1f} min on {_processor()} "
        f"({os.cpu_count()} logical cores, load average at the end "
        f"{os.getloadavg()[0]:.1f})" + (f"; only {only}" if only else "") + ".",
        "",
        "| probes | clear errors (and handled) | tracebacks | data lost | code executed | hangs |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(records)} | {counts[CLEAR] + counts[HANDLED]} | {counts[TRACEBACK]} | "
        f"{counts[DATA_LOST]} | {counts[CODE_EXECUTED]} | {counts[HANG]} |",
        "",
        "Outcomes per category (definitions: the docstring of tests/fault_injection.py):",
        "",
        "| category | " + " | ".join(OUTCOMES) + " | total | seconds |",
        "|---|" + "---:|" * (len(OUTCOMES) + 2),
    ]
    for category in categories:
        mine = [r for r in records if r.category == category]
        tally = Counter(r.outcome for r in mine)
        cells = " | ".join(str(tally[o]) if tally[o] else "" for o in OUTCOMES)
        spent = sum(r.seconds for r in mine)
        lines.append(f"| {category} | {cells} | {len(mine)} | {spent:.0f} |")
    cells = " | ".join(str(counts[o]) for o in OUTCOMES)
    lines.append(f"| all | {cells} | {len(records)} | {seconds:.0f} |")
    for title, kinds in (
        ("Findings: hangs, code executed, data lost, tracebacks", FINDINGS),
        (
            "Also listed: probe errors, unclear errors, bad input accepted",
            (PROBE_ERROR, UNCLEAR, ACCEPTED),
        ),
    ):
        found = sorted(
            (r for r in records if r.outcome in kinds),
            key=lambda r: (OUTCOMES.index(r.outcome), r.category, r.name),
        )
        lines += ["", f"## {title} ({len(found)})", ""]
        lines += [f"- **{r.outcome}** ({r.category}) {r.name}: {r.message}" for r in found]
        if not found:
            lines.append("None.")
    (output / "tally.md").write_text("\n".join(lines) + "\n")


def _prepare(output: Path) -> Path:
    """The output folder (refusing one that holds something else) and the environment that
    keeps every file the pass and its subprocesses write inside it."""
    marker = output / ".fault-injection"
    if output.exists() and any(output.iterdir()) and not marker.exists():
        sys.stderr.write(f"expected --output to be empty or a previous pass's, got {output}\n")
        raise SystemExit(2)
    for name in ("work", "env", "probes.csv", "tally.md"):
        path = output / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    marker.write_text("tests/fault_injection.py output\n")
    for variable, name in (
        ("TMPDIR", "tmp"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("XDG_CACHE_HOME", "cache"),
        ("TORCH_HOME", "torch"),
    ):
        path = output / "env" / name
        path.mkdir(parents=True)
        os.environ[variable] = str(path)
    tempfile.tempdir = None
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["COMPARISONS_CACHE_WAIT_SECONDS"] = "120"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    work = output / "work"
    work.mkdir()
    os.chdir(work)
    return work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="where the tally goes")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only the categories whose name contains this (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the probes, run none")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    root = _prepare(output)
    sys.path.insert(0, str(REPO))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))

    import torch

    torch.set_num_threads(1)
    logging.getLogger().addHandler(CAPTURE)
    logging.getLogger().setLevel(logging.INFO)
    global WORK
    WORK = Work(root)
    WORK.worker.write_text(WORKER_SOURCE)
    records: list[Record] = []
    start = time.monotonic()
    names: set[str] = set()
    for probe in all_probes(args.only):
        if probe.name in names:
            probe.name += f" ({sum(n.startswith(probe.name) for n in names) + 1})"
        names.add(probe.name)
        if args.list:
            print(f"{probe.category}\t{probe.name}")
            continue
        torch.manual_seed(0)

        def give_up(probe: Probe = probe) -> None:  # stuck where SIGALRM cannot reach it
            message = "stuck past twice its limit where SIGALRM cannot interrupt it: pass ended"
            records.append(Record(probe.name, probe.category, HANG, 2 * probe.timeout, message))
            write_tally(output, records, time.monotonic() - start, args.only)
            print(f"{probe.name}: {message}; tally: {output / 'tally.md'}", flush=True)
            os._exit(0)

        watchdog = threading.Timer(2 * probe.timeout + 60, give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            record = execute(probe)
        finally:
            watchdog.cancel()
        records.append(record)
        print(
            f"[{len(records):4d} {time.monotonic() - start:6.0f}s] {record.outcome:13s} "
            f"{record.category}: {record.name}: {first_line(record.message, 160)}",
            flush=True,
        )
    if not args.list:
        write_tally(output, records, time.monotonic() - start, args.only)
        print(f"tally: {output / 'tally.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
