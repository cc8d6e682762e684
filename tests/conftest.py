"""Shared pytest fixtures: small deterministic models with hand-checkable structure."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from torch import nn


class SmoothConvNet(nn.Module):
    """A small smooth (tanh) CNN classifier for exact second-order checks."""

    def __init__(self, in_channels: int = 1, num_classes: int = 3, side: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.act = nn.Tanh()
        self.fc = nn.Linear(4 * side * side, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).flatten(1))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="module")
def _custom_metrics_stay_in_their_module():
    """A config or ``compare()`` call with metrics of your own installs them in the metric
    registries of the process; those a test module installed leave with it, so the next
    module sees the registries as shipped."""
    module = sys.modules.get("comparisons.metrics._custom_metric")
    before = set(module.installed_custom_metrics()) if module is not None else set()
    yield
    module = sys.modules.get("comparisons.metrics._custom_metric")
    if module is not None:
        for name in set(module.installed_custom_metrics()) - before:
            module.uninstall_custom_metric(name)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for the test (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on the shared 2-core machines small models run many times faster than with two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_net():
    """Factory for a float64 SmoothConvNet in eval mode."""

    def factory(in_channels: int = 1, num_classes: int = 3, side: int = 6) -> nn.Module:
        torch.manual_seed(1234 + 10 * num_classes + in_channels)
        return SmoothConvNet(in_channels, num_classes, side).double().eval()

    return factory


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The HTML documentation, built once per session (tests/test_docs*.py share it).

    While it builds, the README blocks and gallery scripts whose runs alone this session
    tests run beside it (tests/_run_alone.py): single-threaded processes on two cores.
    """
    from tests._docs_build import build_docs
    from tests._run_alone import run_alone_while

    selected = [item.nodeid for item in request.session.items]
    readme = any("test_each_readme_snippet_runs_alone" in i for i in selected)
    gallery = any("test_each_gallery_script_runs_alone" in i for i in selected)

    def meanwhile(building: Callable[[], bool]) -> None:
        run_alone_while(building, tmp_path_factory.mktemp, readme, gallery)

    wanted = readme or gallery
    return build_docs(tmp_path_factory.mktemp("docs_html"), meanwhile if wanted else None)
