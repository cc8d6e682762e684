"""Targets, optional imports and per-sample forward binding used by the baselines."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from captum_ifim import DeepSHAP, GradCAM
from captum_ifim._baselines._sample_forward import bind_sample_forward
from captum_ifim._optional_imports import import_optional
from captum_ifim._targets import resolve_targets

OUTPUTS = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 1.0], [0.0, 0.5, 0.7]])


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, [1, 0, 2]),
        (2, [2, 2, 2]),
        ([0, 2, 1], [0, 2, 1]),
        (torch.tensor(1), [1, 1, 1]),
        (torch.tensor([1]), [1, 1, 1]),
        (torch.tensor([2, 0, 0]), [2, 0, 0]),
    ],
)
def test_targets_follow_captum(target, expected):
    resolved = resolve_targets(target, OUTPUTS)
    assert resolved.dtype == torch.long and resolved.tolist() == expected


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (3, ValueError, r"expected targets in \[0, 3\) .* got \[3, 3, 3\]"),
        ([0, -1, 1], ValueError, r"got \[-1\]"),
        ([0, 1], ValueError, "one target per sample"),
        ([1], ValueError, "one target per sample"),
        (torch.tensor([[0, 1, 2]]), ValueError, "shape"),
        (torch.tensor([0.0, 1.0, 2.0]), TypeError, "integer target tensor"),
        (True, TypeError, "int class index"),
        (1.0, TypeError, "int class index"),
        ([0, 1.5, 2], TypeError, "int class index"),
        ((0, 1), TypeError, "tuple"),
    ],
)
def test_bad_targets_are_refused(target, error, message):
    with pytest.raises(error, match=message):
        resolve_targets(target, OUTPUTS)


def test_outputs_must_be_a_batch_of_class_scores():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        resolve_targets(None, torch.zeros(3))


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    with pytest.raises(ImportError, match=r"pip install captum-ifim\[compare\]"):
        import_optional("captum_ifim_no_such_package", "Something")
    monkeypatch.setitem(sys.modules, "shap", None)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ImportError, match=r"DeepSHAP needs the optional package 'shap'"):
        DeepSHAP(model, torch.zeros(1, 1, 2, 2))
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam.grad_cam", None)
    with pytest.raises(ImportError, match=r"GradCAM needs the optional package 'grad-cam'"):
        GradCAM(model, model[1])


def test_sample_forward_slices_per_sample_tensors_and_passes_the_rest():
    seen = []

    def forward(x, per_sample, shared, flag):
        seen.append((per_sample.clone(), shared, flag))
        return x

    per_sample = torch.tensor([[1.0], [2.0], [3.0]])
    shared = torch.ones(5)
    bound = bind_sample_forward(forward, (per_sample, shared, "on"), index=1, num_samples=3)
    bound(torch.zeros(4, 2))
    rows, kept, flag = seen[0]
    assert rows.tolist() == [[2.0]] * 4 and kept is shared and flag == "on"
