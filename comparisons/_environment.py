"""What a run records about where it ran: versions, processor, device, threads, commit, time."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = (
    "captum-ifim",
    "torch",
    "torchvision",
    "captum",
    "numpy",
    "grad-cam",
    "shap",
    "scikit-learn",
    "nilearn",
    "matplotlib",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def processor_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s, as ``lscpu`` prints it), else the platform's."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 min load averages, or None where the platform has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, if it is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment_record() -> dict[str, Any]:
    """Versions, platform, processor, cores and load, device and threads, the git commit,
    and the start time (UTC): machines of one kind differ in speed by 5 x or more, so a
    run's timings mean something only beside its processor and load."""
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": processor_name(),
        "logical_cores": os.cpu_count(),
        "load_average_at_start": load_average(),
        "packages": {name: _version(name) for name in PACKAGES},
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
    }
