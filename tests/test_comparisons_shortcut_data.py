"""The shortcut task (``mni-sks-shortcut``): where the cue is, how often it follows the
label, its checks, and the model's reliance on it (rows of the harness)."""

from __future__ import annotations

import functools
import json
import math

import pytest
import torch
from torch import nn

from comparisons.config import parse_config
from comparisons.datasets import load_dataset, make_mni_sks, make_mni_sks_shortcut
from comparisons.datasets._mni_shortcut import anatomy_support
from comparisons.datasets._spurious_cue import cue_region
from comparisons.metrics import MODEL_ROWS, ROW_SPECS
from comparisons.reporting import model_facts_table
from comparisons.run import run
from comparisons.run._cue_reliance import cue_reliance_values
from comparisons.statistics import summarize

SIZE = 32
SMALL = {"num_train": 24, "num_val": 8, "num_test": 16, "image_size": SIZE}
#: Enough images for the correlation's binomial tolerance (4 standard deviations).
LARGE = {"num_train": 1000, "num_val": 20, "num_test": 1000, "image_size": SIZE}
CUE_ROWS = ("cue-accuracy-congruent", "cue-accuracy-incongruent", "cue-reliance")


@functools.cache
def shortcut(kind: str = "marker", strength: float = 1.0, seed: int = 0, large: bool = False):
    sizes = LARGE if large else SMALL
    return make_mni_sks_shortcut(**sizes, seed=seed, cue_kind=kind, cue_strength=strength)


@functools.cache
def base(seed: int = 0, large: bool = False):
    return make_mni_sks(**(LARGE if large else SMALL), seed=seed)


SPLITS = ("train", "val", "test")


@pytest.mark.parametrize("kind", ["marker", "border", "texture"])
def test_the_cue_is_exactly_where_its_masks_say_and_is_the_pattern(kind):
    data, plain = shortcut(kind), base()
    cue = data.cue
    assert cue.kind == kind and cue.cue_class == 1 and cue.strength == 1.0
    assert not bool((cue.region & anatomy_support(SIZE)).any())
    for name in SPLITS:
        split, without = getattr(data, name), getattr(plain, name)
        assert torch.equal(split.labels, without.labels)
        assert torch.equal(split.masks, without.masks)  # the masks stay the signal's
        difference = split.images - without.images
        masks = cue.masks(split.cue_present)
        assert torch.equal(difference[:, 0] != 0, masks)
        expected = split.cue_present[:, None, None, None] * cue.pattern[None]
        torch.testing.assert_close(difference, expected, rtol=0, atol=1e-6)
        assert 0 < int(split.cue_present.sum()) < len(split)


def test_the_default_cues_have_the_documented_geometry():
    marker, border, texture = (shortcut(k).cue for k in ("marker", "border", "texture"))
    # 3 px square 1 px from the top-left corner at 32 px; amplitude 0.3
    assert marker.region.nonzero().tolist() == [[r, c] for r in (1, 2, 3) for c in (1, 2, 3)]
    assert torch.equal(marker.pattern[0][marker.region], torch.full((9,), 0.3))
    columns = border.region.any(0).nonzero().flatten().tolist()
    assert columns == [0, SIZE - 1] and bool(border.region[:, [0, SIZE - 1]].all())
    assert torch.equal(texture.region, marker.region)
    assert sorted(texture.pattern[0][texture.region].tolist()) == pytest.approx(
        [-0.3] * 4 + [0.3] * 5
    )
    assert cue_region("marker", 8, 2, "bottom-right", 1).nonzero().tolist() == [
        [5, 5],
        [5, 6],
        [6, 5],
        [6, 6],
    ]


def test_at_strength_one_the_cue_is_on_exactly_for_present_in_training_and_validation():
    data = shortcut(strength=1.0)
    for split in (data.train, data.val):
        assert torch.equal(split.cue_present, split.labels == 1)
    assert "marker" in data.description and "strength 1" in data.description


def _agreement(split) -> float:
    return float((split.cue_present == (split.labels == 1)).float().mean())


def test_the_training_correlation_is_as_stated_within_a_binomial_tolerance():
    """At strength s the cue agrees with the label on (1 + s) / 2 of the images in
    expectation; over n = 1000 images the tolerance is 4 binomial standard deviations."""
    n = LARGE["num_train"]
    for strength in (0.9, 0.0):
        split = shortcut(strength=strength, large=True).train
        p = (1 + strength) / 2
        assert abs(_agreement(split) - p) <= 4 * math.sqrt(p * (1 - p) / n)
    # at 0.0 the cue is independent of the label: its rate per class is one half
    split = shortcut(strength=0.0, large=True).train
    for label in (0, 1):
        on = split.cue_present[split.labels == label].float()
        assert abs(float(on.mean()) - 0.5) <= 4 * math.sqrt(0.25 / len(on))
    assert _agreement(shortcut(strength=1.0, large=True).train) == 1.0


def test_the_test_split_is_a_fair_coin_and_identical_at_every_strength():
    tests = [shortcut(strength=s, large=True).test for s in (1.0, 0.9, 0.0)]
    first = tests[0]
    for other in tests[1:]:
        assert torch.equal(other.images, first.images)
        assert torch.equal(other.labels, first.labels)
        assert torch.equal(other.cue_present, first.cue_present)
    for label in (0, 1):
        on = first.cue_present[first.labels == label].float()
        assert abs(float(on.mean()) - 0.5) <= 4 * math.sqrt(0.25 / len(on))


def test_the_strengths_share_their_base_images_and_differ_only_in_the_cue():
    plain = base(large=True)
    for strength in (1.0, 0.9, 0.0):
        data = shortcut(strength=strength, large=True)
        for name in SPLITS:
            split = getattr(data, name)
            removed = data.cue.set_to(
                split.images, split.cue_present, torch.zeros_like(split.cue_present)
            )
            torch.testing.assert_close(removed, getattr(plain, name).images, rtol=0, atol=1e-6)


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    again = make_mni_sks_shortcut(**SMALL, seed=0)
    data = shortcut()
    for name in SPLITS:
        assert torch.equal(getattr(again, name).images, getattr(data, name).images)
        assert torch.equal(getattr(again, name).cue_present, getattr(data, name).cue_present)
    other = shortcut(seed=1)
    assert not torch.equal(other.train.images, data.train.images)
    assert not torch.equal(other.test.cue_present, data.test.cue_present)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cue_strength": 1.5}, r"cue_strength in \[0, 1\], got 1.5"),
        ({"cue_strength": -0.1}, r"cue_strength in \[0, 1\], got -0.1"),
        ({"cue_strength": math.nan}, r"cue_strength in \[0, 1\], got nan"),
        ({"cue_strength": True}, "cue_strength a number, got True"),
        ({"cue_strength": "high"}, "cue_strength a number, got 'high'"),
        ({"cue_amplitude": 0.0}, r"cue_amplitude in \(0, inf\), got 0.0"),
        ({"cue_amplitude": math.inf}, r"cue_amplitude in \(0, inf\), got inf"),
        ({"cue_size": 0}, "cue_size an integer >= 1"),
        ({"cue_size": 2.5}, "cue_size an integer >= 1"),
        ({"cue_size": 40}, "cue_size that fits the 32 px image"),
        ({"cue_kind": "sticker"}, "cue_kind in"),
        ({"cue_position": "centre"}, "cue_position in"),
        # overlaps (measured): the anatomy reaches the 5th pixel from a corner and the 2nd column
        ({"cue_size": 5}, r"5 px at top-left\) outside the anatomy.*at most 3"),
        (
            {"cue_kind": "border", "cue_size": 2},
            r"got 22 of its pixels on them; use a cue_size of at most 1",
        ),
        ({"cue_kind": "texture", "cue_size": 4, "cue_position": "bottom-right"}, "at most 3"),
    ],
)
def test_every_bad_cue_option_is_refused_when_the_dataset_is_built(options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("mni-sks-shortcut", **SMALL, **options)


def test_a_bad_cue_option_in_a_config_is_refused_by_its_check():
    from comparisons.config import check_config

    config = parse_config(
        {
            "datasets": [{"name": "mni-sks-shortcut", "options": {"cue_strength": 1.2}}],
            "models": [{"name": "shallow-cnn"}],
            "methods": {"names": ["saliency"]},
            "metrics": {"names": ["deletion-auc"]},
        }
    )
    with pytest.raises(ValueError, match=r"mni-sks-shortcut.*cue_strength in \[0, 1\]"):
        check_config(config)


class _CueReader(nn.Module):
    """Says "present" exactly when the cue is on: projects the image on the cue's pattern."""

    def __init__(self, pattern):
        super().__init__()
        self.register_buffer("pattern", pattern)

    def forward(self, x):
        score = (x * self.pattern).flatten(1).sum(1) / self.pattern.square().sum() - 0.5
        return torch.stack([-score, score], dim=1)


class _CueBlind(nn.Module):
    """A fixed linear model of the pixels outside the cue's region."""

    def __init__(self, region):
        super().__init__()
        self.register_buffer("keep", (~region).float())
        self.linear = nn.Linear(region.numel(), 2)

    def forward(self, x):
        return self.linear((x * self.keep).flatten(1))


@pytest.mark.parametrize("kind", ["marker", "border", "texture"])
def test_reliance_is_one_for_a_model_reading_only_the_cue_and_zero_for_one_ignoring_it(kind):
    data = shortcut(kind)
    values = {m: v for m, v, _, _ in cue_reliance_values(_CueReader(data.cue.pattern), data, 5)}
    assert values == {
        "cue-accuracy-congruent": 1.0,
        "cue-accuracy-incongruent": 0.0,
        "cue-reliance": 1.0,
    }
    torch.manual_seed(0)
    blind = cue_reliance_values(_CueBlind(data.cue.region), data, batch_size=7)
    assert [row[0] for row in blind] == list(CUE_ROWS)
    assert blind[0][1] == blind[1][1] and blind[2][1] == 0.0
    assert all(row[3] == len(data.test) for row in blind)
    assert cue_reliance_values(_CueBlind(data.cue.region), base()) == []


def test_the_reliance_rows_are_declared_model_facts():
    for name in CUE_ROWS:
        assert ROW_SPECS[name].role == "model-fact" and ROW_SPECS[name] in MODEL_ROWS


def test_a_run_writes_the_reliance_rows_for_a_dataset_with_a_cue_only(tmp_path):
    small = {"num_train": 24, "num_val": 8, "num_test": 8, "image_size": SIZE}
    config = parse_config(
        {
            "run": {"name": "shortcut", "seeds": [0], "eval_examples": 2, "batch_size": 2},
            "datasets": [
                {"name": "mni-sks-shortcut", "options": {**small, "cue_strength": 0.9}},
                {"name": "mni-sks", "options": small},
            ],
            "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}}],
            "methods": {"names": ["saliency"]},
            "metrics": {"names": ["deletion-auc"]},
        }
    )
    folder = run(config, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    folder.write_tables()
    rows = json.loads((folder.path / "results.json").read_text())
    cue = {r["metric"]: r for r in rows if r["metric"] in CUE_ROWS}
    assert set(cue) == set(CUE_ROWS)
    assert all(r["dataset"] == "mni-sks-shortcut" and r["method"] == "" for r in cue.values())
    assert all(
        r["n"] == 8 and 0 <= r["value"] <= 1 for r in cue.values() if r["metric"] != "cue-reliance"
    )
    assert cue["cue-reliance"]["value"] == pytest.approx(
        cue["cue-accuracy-congruent"]["value"] - cue["cue-accuracy-incongruent"]["value"]
    )
    assert sum(r["metric"] in CUE_ROWS for r in rows) == 3  # none for mni-sks
    # the models' table shows the cue columns where there are rows, and only there
    summary = summarize(folder.rows())
    with_cue = model_facts_table(summary, "mni-sks-shortcut")
    without = model_facts_table(summary, "mni-sks")
    assert "cue-reliance" in with_cue and "test-accuracy" in with_cue
    assert "cue-" not in without and "test-accuracy" in without
