"""A cell of ``ifim-sensitive`` decomposes each evaluated image once (issue 26, item 1):
its map, the contrastive test's low map, the eigenvalues and the eigenspace all come from
that one decomposition, and equal what the separate calls gave."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from captum_ifim import IFIMDecomposition, build_method
from captum_ifim.metrics import compute_maps
from comparisons.config import parse_config
from comparisons.run import run
from comparisons.run._spectrum_maps import shares_decomposition, spectrum_maps
from tests.test_comparisons_harness import TINY


@functools.cache
def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    ).eval()


def test_one_decomposition_gives_what_the_separate_calls_gave():
    model = _model()
    inputs = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    sensitive = build_method("ifim-sensitive", model, energy=0.5)
    insensitive = build_method("ifim-insensitive", model, energy=0.5)
    assert shares_decomposition(sensitive, insensitive)
    once = spectrum_maps(sensitive, inputs, batch_size=2)
    assert torch.equal(once.maps, compute_maps(sensitive, inputs, None, None, 2))
    assert torch.equal(once.other, compute_maps(insensitive, inputs, None, None, 2))
    chunked = torch.cat([sensitive.eigenvalues(chunk) for chunk in inputs.split(2)])
    assert torch.equal(once.eigenvalues, chunked.double())
    k = once.num_components
    basis = once.basis.double()
    for n in range(len(inputs)):  # U_K is orthonormal and spans the top-K eigenvectors
        u = basis[n, : k[n]]
        torch.testing.assert_close(u @ u.T, torch.eye(int(k[n]), dtype=torch.float64))
        vectors = sensitive.decompose(inputs[n : n + 1]).eigenvectors[0, : k[n]].flatten(1)
        projector = u.T @ u
        torch.testing.assert_close(
            vectors.double() @ projector, vectors.double(), atol=1e-5, rtol=0
        )
    past_k = k[:, None] <= torch.arange(basis.shape[1])
    assert past_k.any() and (basis[past_k] == 0).all()


@pytest.mark.parametrize(
    "low_options", [{"energy": 0.9}, {"output": "probs"}], ids=["energy", "output-head"]
)
def test_a_low_method_with_other_options_is_not_shared(low_options):
    sensitive = build_method("ifim-sensitive", _model(), energy=0.5)
    low = build_method("ifim-insensitive", _model(), **{"energy": 0.5, **low_options})
    assert not shares_decomposition(sensitive, low)
    assert not shares_decomposition(sensitive, build_method("ifim-sensitive", _model()))
    assert not shares_decomposition(sensitive, build_method("saliency", _model()))


def test_a_cell_decomposes_each_image_once(tmp_path, monkeypatch):
    calls: list[int] = []
    decompose = IFIMDecomposition.decompose

    def counting(self, inputs, *args, **kwargs):
        calls.append(inputs.shape[0])
        return decompose(self, inputs, *args, **kwargs)

    monkeypatch.setattr(IFIMDecomposition, "decompose", counting)
    data = copy.deepcopy(TINY)
    data["run"]["seeds"] = [0]
    data["methods"] = {"names": ["ifim-sensitive"]}
    data["metrics"] = {"names": ["contrastive-perturbation"]}
    folder = run(parse_config(data), tmp_path / "run", cache_dir=tmp_path / "cache")
    assert folder.failed == []
    # One warm-up image, then the six evaluated images in batches of three: before, the
    # low map, the figures' eigenvalues and the pair stage's U_K each decomposed them again.
    assert calls == [1, 3, 3]
