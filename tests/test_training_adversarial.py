"""Adversarial training: the attack's geometry, its config, its cache key, and that it makes a
model robust where clean training does not."""

from __future__ import annotations

import doctest
import functools
import math
import tomllib

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import comparisons.training._adversarial_training as adversarial_module
from comparisons.config import parse_config
from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.models import build_model
from comparisons.run._dry_run import check_inputs
from comparisons.training import (
    AdversarialTraining,
    TrainedModel,
    TrainingConfig,
    TrainingHistory,
    adversarial_examples,
    cache_identity,
    cache_key,
    check_epsilon,
    data_width,
    model_build_options,
    robust_accuracy,
    train_model,
)
from comparisons.training._fit import _batch_loss

PGD = AdversarialTraining("pgd", 0.3, steps=2)
SIDE = 16


pytestmark = pytest.mark.usefixtures("one_thread")


# --- the config ---------------------------------------------------------------------------


def test_defaults_resolve_to_madry_pgd_and_one_step_fgsm():
    pgd = AdversarialTraining("pgd", 0.3)
    assert (pgd.steps, pgd.random_start, pgd.mix) == (3, True, 1.0)
    assert pgd.step_size == pytest.approx(2.5 * 0.3 / 3)
    fgsm = AdversarialTraining("fgsm", 1)
    assert (fgsm.epsilon, fgsm.steps, fgsm.step_size, fgsm.random_start) == (1.0, 1, 1.0, False)
    assert isinstance(fgsm.epsilon, float)
    # Spelt with its defaults, a config is the same config (one cache key).
    assert AdversarialTraining("pgd", 0.3, 3, 0.25, True, 1) == pgd
    assert AdversarialTraining.from_dict(pgd.to_dict()) == pgd


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"attack": "bim", "epsilon": 0.1}, ValueError, "expected attack 'fgsm' or 'pgd'"),
        ({"attack": "pgd", "epsilon": 0}, ValueError, "expected epsilon to be a finite"),
        ({"attack": "pgd", "epsilon": -0.1}, ValueError, "expected epsilon to be a finite"),
        ({"attack": "pgd", "epsilon": math.inf}, ValueError, "expected epsilon to be a finite"),
        ({"attack": "pgd", "epsilon": math.nan}, ValueError, "expected epsilon to be a finite"),
        ({"attack": "pgd", "epsilon": "0.1"}, TypeError, "expected epsilon to be a number"),
        ({"attack": "pgd", "epsilon": True}, TypeError, "expected epsilon to be a number"),
        ({"attack": "pgd", "epsilon": 0.1, "steps": 0}, ValueError, "expected steps to be an int"),
        ({"attack": "pgd", "epsilon": 0.1, "steps": 2.0}, ValueError, "expected steps"),
        ({"attack": "pgd", "epsilon": 0.1, "step_size": 0}, ValueError, "expected step_size"),
        ({"attack": "pgd", "epsilon": 0.1, "random_start": 1}, TypeError, "random_start"),
        ({"attack": "fgsm", "epsilon": 0.1, "steps": 3}, ValueError, "expected FGSM with"),
        ({"attack": "fgsm", "epsilon": 0.1, "random_start": True}, ValueError, "FGSM"),
        ({"attack": "fgsm", "epsilon": 0.1, "step_size": 0.2}, ValueError, "FGSM"),
        ({"attack": "pgd", "epsilon": 0.1, "mix": 1.5}, ValueError, r"expected mix in \[0, 1\]"),
        ({"attack": "pgd", "epsilon": 0.1, "mix": -0.1}, ValueError, "expected mix in"),
        ({"attack": "pgd", "epsilon": 0.1, "mix": True}, TypeError, "expected mix to be"),
        ({"attack": "pgd", "epsilon": 0.1, "norm": "l2"}, ValueError, "adversarial keys among"),
        ({"attack": "pgd"}, ValueError, r"expected adversarial keys \['epsilon'\]"),
    ],
)
def test_bad_fields_are_clear_errors(fields, error, match):
    with pytest.raises(error, match=match):
        AdversarialTraining.from_dict(fields)
    with pytest.raises(error, match=f"adversarial: .*{match}"):
        TrainingConfig.from_dict({"epochs": 2, "adversarial": fields})


def test_training_config_reads_the_nested_table_and_round_trips():
    text = """
    epochs = 2
    [adversarial]
    attack = "pgd"
    epsilon = 0.05
    steps = 3
    mix = 0.5
    """
    config = TrainingConfig.from_dict(tomllib.loads(text))
    assert config.adversarial == AdversarialTraining("pgd", 0.05, steps=3, mix=0.5)
    assert config.to_dict()["adversarial"]["step_size"] == pytest.approx(2.5 * 0.05 / 3)
    assert TrainingConfig.from_dict(config.to_dict()) == config
    assert "adversarial" not in TrainingConfig.fast().to_dict()
    with pytest.raises(TypeError, match="expected adversarial to be an AdversarialTraining"):
        TrainingConfig.from_dict({"adversarial": "pgd"})


def test_a_harness_config_refuses_a_bad_epsilon_when_it_loads():
    data = {
        "datasets": [{"name": "mni-sks"}],
        "models": [
            {
                "name": "shallow-cnn",
                "training": {"adversarial": {"attack": "pgd", "epsilon": -0.05}},
            }
        ],
    }
    with pytest.raises(ValueError, match=r"\[models.training\] of 'shallow-cnn': adversarial: "):
        parse_config(data)


# --- the cache key ------------------------------------------------------------------------


def _key_dataset() -> ImageDataset:
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4) / 32
    split = ImageSplit(x, torch.tensor([0, 1]))
    return ImageDataset("toy", ("a", "b"), split, split, split, 0.5, 0.25, value_range=(0.0, 1.0))


def _key(config: TrainingConfig, model: str = "shallow-cnn") -> str:
    data = _key_dataset()
    identity = cache_identity(model, model_build_options({}, config, data), data, config, 3)
    identity["torch"] = "2.5"  # the key holds torch's major.minor: fixed here
    return cache_key(identity)


def test_clean_configs_keep_the_cache_keys_they_had_before_adversarial_training():
    # Computed before AdversarialTraining existed (commit 898ae5b): cached checkpoints of
    # clean configs are still found.
    assert _key(TrainingConfig.fast()) == "68461bbb7f88fec7c475b2e2"
    assert _key(TrainingConfig.paper(epochs=12)) == "c6b345f9b4fb75146d376ea1"


def test_the_cache_key_changes_with_the_attack_and_only_with_it():
    clean = _key(TrainingConfig.fast())
    keys = {
        _key(TrainingConfig.fast(adversarial=AdversarialTraining("pgd", eps, mix=mix)))
        for eps in (0.05, 0.1)
        for mix in (0.5, 1.0)
    }
    assert len(keys) == 4 and clean not in keys
    implicit = TrainingConfig.fast(adversarial=AdversarialTraining("pgd", 0.1))
    explicit = TrainingConfig.fast(adversarial=AdversarialTraining("pgd", 0.1, 3, 0.25 / 3, True))
    assert _key(implicit) == _key(explicit)


# --- the attack ---------------------------------------------------------------------------


@functools.cache
def _cnn() -> nn.Module:
    return build_model("shallow-cnn", 1, 2, (SIDE, SIDE), seed=0, channels=(4, 8, 8)).eval()


def _images(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, SIDE, SIDE, generator=generator), torch.arange(n) % 2


@pytest.mark.parametrize("attack", [AdversarialTraining("fgsm", 0.1), PGD])
def test_the_attack_stays_in_the_ball_and_the_value_range(attack):
    model = _cnn()
    x, y = _images()
    adversarial = adversarial_examples(
        model, x, y, attack, generator=torch.Generator().manual_seed(1), value_range=(0.0, 1.0)
    )
    assert adversarial.shape == x.shape and adversarial.dtype == x.dtype
    assert float((adversarial - x).abs().max()) <= attack.epsilon + 1e-6
    assert float(adversarial.min()) >= 0.0 and float(adversarial.max()) <= 1.0
    # Images within epsilon of the bounds: the clamp is what kept them inside.
    unclamped = adversarial_examples(
        model, x, y, attack, generator=torch.Generator().manual_seed(1)
    )
    assert float(unclamped.min()) < 0.0 or float(unclamped.max()) > 1.0


def test_on_a_linear_model_fgsm_and_pgd_reach_the_exact_worst_case_corner():
    """CE of a 2-class linear model rises along w_other - w_label: the maximum over the
    L-infinity ball is x + epsilon * sign(w_other - w_label), which FGSM takes in one step and
    PGD's 2.5 * epsilon of steps reaches from any start."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(2, 16, generator=torch.Generator().manual_seed(5)))
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(6))
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    weight = model[1].weight.detach()
    direction = (weight[1 - y] - weight[y]).sign().reshape(x.shape)
    corner = x + 0.2 * direction
    for attack in (AdversarialTraining("fgsm", 0.2), AdversarialTraining("pgd", 0.2, steps=4)):
        adversarial = adversarial_examples(
            model, x, y, attack, generator=torch.Generator().manual_seed(0)
        )
        torch.testing.assert_close(adversarial, corner, rtol=0, atol=1e-6)


def test_pgd_raises_every_images_loss_and_leaves_the_model_as_found():
    model = _cnn().train()  # training mode on entry: restored afterwards
    x, y = _images(16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adversarial = adversarial_examples(model, x, y, PGD, generator=torch.Generator().manual_seed(2))
    model.eval()
    with torch.no_grad():
        clean_loss = F.cross_entropy(model(x), y, reduction="none")
        attacked_loss = F.cross_entropy(model(adversarial), y, reduction="none")
        signs = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(3)) * 2 - 1
        random_loss = F.cross_entropy(model(x + PGD.epsilon * signs), y, reduction="none")
    assert bool((attacked_loss > clean_loss).all())
    assert bool((attacked_loss > random_loss).all())  # a corner of the ball at random: less
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not x.requires_grad


def test_the_attack_runs_in_eval_mode_and_puts_every_training_flag_back():
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(16), nn.Linear(16, 2), nn.Dropout(0.5))
    model.train()
    model[3].eval()  # a mixed state, as a frozen layer leaves it
    x = torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(8))
    y = torch.tensor([0, 1, 0, 1])
    running = model[1].running_mean.clone()
    first = adversarial_examples(model, x, y, PGD, generator=torch.Generator().manual_seed(9))
    again = adversarial_examples(model, x, y, PGD, generator=torch.Generator().manual_seed(9))
    assert torch.equal(first, again)  # no dropout draw, no batch statistics
    assert torch.equal(model[1].running_mean, running)  # BatchNorm's statistics untouched
    assert [m.training for m in model] == [True, True, True, False]


def test_the_attack_is_determined_by_the_generator():
    model, (x, y) = _cnn(), _images()

    def attack(seed: int) -> torch.Tensor:
        return adversarial_examples(model, x, y, PGD, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(attack(3), attack(3))
    assert not torch.equal(attack(3), attack(4))
    with pytest.raises(ValueError, match="expected a generator for the PGD random start"):
        adversarial_examples(model, x, y, PGD)


@pytest.mark.parametrize("mix", [0.0, 0.25, 1.0])
def test_the_batch_loss_weighs_clean_and_attacked_images_by_mix(mix):
    model, (x, y) = _cnn(), _images()  # no BatchNorm or dropout: train and eval agree
    attack = AdversarialTraining("pgd", 0.1, mix=mix)
    loss = _batch_loss(model, x, y, attack, torch.Generator().manual_seed(7), None)
    attacked = adversarial_examples(model, x, y, attack, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = mix * F.cross_entropy(model(attacked), y) + (1 - mix) * F.cross_entropy(
            model(x), y
        )
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)


def test_the_module_examples_run():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(adversarial_module):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


# --- epsilon against the data -------------------------------------------------------------


def test_an_epsilon_as_wide_as_the_data_is_refused_naming_model_dataset_and_numbers():
    ranged = _key_dataset()  # value_range (0, 1)
    assert data_width(ranged) == 1.0
    check_epsilon(AdversarialTraining("pgd", 0.99), ranged, "m", "d")
    with pytest.raises(ValueError, match=r"'m' on dataset 'd'.*\(1, its value_range\).*= 1\b"):
        check_epsilon(AdversarialTraining("pgd", 1.0), ranged, "m", "d")
    unranged = ImageDataset("raw", ("a", "b"), *[ranged.train] * 3, 0.5, 0.25)
    assert data_width(unranged) == pytest.approx(31 / 32)  # max - min of the training images
    with pytest.raises(ValueError, match=r"0.96875, its training images' max - min"):
        check_epsilon(AdversarialTraining("fgsm", 0.97), unranged, "m")


def test_a_run_refuses_an_epsilon_wider_than_its_data_before_training(tmp_path):
    data = {
        "run": {"seeds": [0]},
        "datasets": [
            {
                "name": "lumpy-sks",
                "options": {"num_train": 8, "num_val": 4, "num_test": 4, "image_size": 16},
            }
        ],
        "models": [
            {
                "name": "shallow-cnn",
                "training": {"epochs": 1, "adversarial": {"attack": "fgsm", "epsilon": 1e6}},
            }
        ],
        "methods": {"names": ["saliency"]},
        "metrics": {"names": ["sparseness"]},
    }
    config = parse_config(data)  # a positive, finite epsilon: valid until the data are read
    with pytest.raises(ValueError, match=r"'shallow-cnn' on dataset 'lumpy-sks'.*epsilon = 1e\+06"):
        check_inputs(config, tmp_path / "out", None)
    assert not (tmp_path / "out").exists()


# --- training -----------------------------------------------------------------------------


def _robust_task_split(n: int, seed: int) -> ImageSplit:
    """Tsipras et al.'s robust and non-robust features, as 16 x 16 images. A 4 x 4 corner
    patch of value +-1 agrees with the label for 85% of images (robust: epsilon 0.3 cannot
    flip it); every other pixel is N(+-0.15, 1) (non-robust: together they give the label
    almost surely, yet an epsilon of 0.3 = 2 x 0.15 turns them all to the other class)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    sign = (2 * labels - 1).float()
    images = 0.15 * sign[:, None, None, None] + torch.randn(n, 1, SIDE, SIDE, generator=generator)
    patch = torch.where(torch.rand(n, generator=generator) < 0.85, sign, -sign)
    images[:, 0, :4, :4] = patch[:, None, None] + 0.1 * torch.randn(n, 4, 4, generator=generator)
    return ImageSplit(images, labels)


@functools.cache
def _robust_task() -> ImageDataset:
    train = _robust_task_split(192, 1)
    mean, std = pixel_statistics(train.images)
    test = _robust_task_split(128, 3)
    return ImageDataset(
        "robust-features", ("a", "b"), train, _robust_task_split(128, 2), test, mean, std
    )


@functools.cache
def _trained(adversarial: bool) -> TrainedModel:
    config = TrainingConfig.fast(
        epochs=8, batch_size=32, lr=1e-2, adversarial=PGD if adversarial else None
    )
    return train_model(
        "shallow-cnn",
        _robust_task(),
        config,
        0,
        model_options={"channels": (8, 16, 16)},
        progress=False,
    )


def test_adversarial_training_makes_the_model_robust_to_its_attack():
    data = _robust_task()
    accuracy = {
        adversarial: robust_accuracy(
            _trained(adversarial).model, data.test, PGD, torch.Generator().manual_seed(0), 128
        )
        for adversarial in (False, True)
    }
    # Measured: clean training 0.070 (it reads the non-robust pixels), adversarial 0.859
    # (the patch: its 85% agreement is the most a robust model gets).
    assert accuracy[False] < 0.25
    assert accuracy[True] > 0.75
    assert accuracy[True] - accuracy[False] > 0.5
    assert _trained(False).test_metrics.accuracy > 0.95  # clean training is accurate


def test_adversarial_training_records_robust_validation_accuracy_and_is_seeded():
    trained = _trained(True)
    history = trained.history
    assert len(history.val_robust_accuracy) == history.epochs == 8
    assert history.val_robust_accuracy[-1] > 0.75
    assert TrainingHistory.from_dict(history.to_dict()) == history
    assert "val_robust_accuracy" not in _trained(False).history.to_dict()
    again = train_model(
        "shallow-cnn",
        _robust_task(),
        trained.config,
        0,
        model_options={"channels": (8, 16, 16)},
        progress=False,
    )
    assert again.cache_key == trained.cache_key != _trained(False).cache_key
    first, second = trained.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
