"""``compare()`` at its edges (issue 21, fault injection, "unclear errors"): float64 and half
images or models are compared in float32 (they reached torch's dtype RuntimeError); images
or a model on the meta device, NaN or infinite images and an empty ``value_range`` are
refused by a ``ValueError`` before the model runs or a folder is written (they reached
torch's NotImplementedError, or failed in the cells)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from comparisons import compare
from comparisons._api import tensor_dataset
from comparisons.datasets import ImageSplit
from tests.test_comparisons_api import TIMINGS

OPTIONS = {
    "methods": ["saliency"],
    "metrics": ["deletion-auc"],
    "eval_examples": 4,
    "num_threads": 1,
}


def _model() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    return torch.rand(8, 1, 8, 8, generator=generator), torch.arange(8) % 2


def _values(frame) -> list[tuple]:
    """The rows but their timings (every other value agrees exactly)."""
    kept = frame[~frame.metric.isin(TIMINGS)]
    return sorted(
        (r.method, r.metric, r.setting, "nan" if math.isnan(r.value) else r.value, r.n)
        for r in kept.itertuples()
    )


class CountingModel(torch.nn.Module):
    """Counts its forward calls, in every copy (the counter is shared)."""

    def __init__(self, calls: list[int]) -> None:
        super().__init__()
        self.inner = _model()
        self.calls = calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        return self.inner(x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_images_of_another_float_dtype_give_the_rows_of_their_float32_values(dtype):
    images, labels = _data()
    given = images.to(dtype)
    rows = compare(_model(), (given, labels), **OPTIONS)  # was torch's "mat1 and mat2" error
    assert _values(rows) == _values(compare(_model(), (given.float(), labels), **OPTIONS))
    assert given.dtype == dtype  # the caller's tensor as found


def test_a_float64_model_is_compared_in_float32_and_left_as_found():
    images, labels = _data()
    model = _model().double()
    rows = compare(model, (images, labels), **OPTIONS)  # was torch's dtype RuntimeError
    assert _values(rows) == _values(compare(_model(), (images, labels), **OPTIONS))
    assert all(p.dtype == torch.float64 for p in model.parameters())


def test_images_on_the_meta_device_are_refused_before_the_model_runs(tmp_path):
    calls: list[int] = []
    images, labels = _data()
    for data in ((images.to("meta"), labels), (images, labels.to("meta"))):
        with pytest.raises(ValueError, match="meta device") as caught:
            compare(CountingModel(calls), data, output=tmp_path / "out", **OPTIONS)
        assert "NotImplementedError" not in repr(caught.value.__cause__)
    assert calls == [] and not (tmp_path / "out").exists()


def test_a_model_on_the_meta_device_is_refused_naming_a_parameter(tmp_path):
    with torch.device("meta"):
        model = _model()
    with pytest.raises(ValueError, match=r"'1\.weight' on the meta device"):
        compare(model, _data(), output=tmp_path / "out", **OPTIONS)
    dataset = tensor_dataset(*_data(), class_names=["a", "b"])
    with pytest.raises(ValueError, match="meta device"):
        compare(model, dataset, output=tmp_path / "out", **OPTIONS)
    assert not (tmp_path / "out").exists()


def test_nan_and_infinite_images_are_refused_naming_how_many_and_the_first(tmp_path):
    calls: list[int] = []
    images, labels = _data()
    images[6, 0, 0, 1] = math.inf
    images[3, 0, 2, 5] = math.nan
    images[3, 0, 7, 7] = -math.inf
    with pytest.raises(ValueError) as caught:
        compare(CountingModel(calls), (images, labels), output=tmp_path / "out", **OPTIONS)
    message = str(caught.value)
    assert "3 NaN or infinite values" in message and "image 3 at (0, 2, 5)" in message
    assert calls == [] and not (tmp_path / "out").exists()


def test_a_dataset_holding_nan_images_is_refused_naming_the_split(tmp_path):
    images, labels = _data()
    dataset = tensor_dataset(images, labels, class_names=["a", "b"])
    bad = images.clone()
    bad[5, 0, 4, 4] = math.nan
    dataset = dataclasses.replace(dataset, test=ImageSplit(bad, labels))
    with pytest.raises(ValueError, match=r"1 NaN or infinite value .*test split.*image 5"):
        compare(_model(), dataset, output=tmp_path / "out", **OPTIONS)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "value_range", [(1.0, 0.0), (0.5, 0.5), (0.0, math.nan), (0.0, math.inf), (0.0,), "0,1"]
)
def test_a_value_range_that_is_not_low_below_high_is_refused_at_once(value_range, tmp_path):
    calls: list[int] = []
    with pytest.raises(ValueError, match="value_range"):
        compare(
            CountingModel(calls),
            _data(),
            value_range=value_range,
            output=tmp_path / "out",
            **OPTIONS,
        )
    assert calls == [] and not (tmp_path / "out").exists()  # was: the cells failed
    with pytest.raises(ValueError, match="value_range"):
        tensor_dataset(*_data(), class_names=["a", "b"], value_range=value_range)
