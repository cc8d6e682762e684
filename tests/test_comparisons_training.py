"""Training: learns a separable task, keeps the right epoch, is seeded, caches exactly."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import comparisons.training._train_model as train_module
from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.training import (
    AdversarialTraining,
    CheckpointFiles,
    TrainingConfig,
    TrainingHistory,
    cache_identity,
    cache_key,
    classification_metrics,
    evaluate,
    save_checkpoint,
    train_model,
)

SIDE = 16
TINY = TrainingConfig.fast(epochs=5, batch_size=16)


pytestmark = pytest.mark.usefixtures("one_thread")


def _blobs(n: int, seed: int) -> ImageSplit:
    """Noise around 5 (std 0.3), plus a bright Gaussian blob (amplitude 3) when label 1."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = 5.0 + 0.3 * torch.randn(n, 1, SIDE, SIDE, generator=generator)
    centres = torch.randint(4, SIDE - 4, (n, 2), generator=generator).float()
    grid = torch.arange(SIDE).float()
    distance = (grid[None, :, None] - centres[:, 0, None, None]) ** 2 + (
        grid[None, None, :] - centres[:, 1, None, None]
    ) ** 2
    images[:, 0] += 3.0 * labels[:, None, None] * torch.exp(-distance / 4.0)
    masks = (distance < 4.0) & (labels[:, None, None] == 1)
    return ImageSplit(images, labels, masks)


@pytest.fixture(scope="module")
def dataset() -> ImageDataset:
    train = _blobs(96, 1)
    mean, std = pixel_statistics(train.images)
    return ImageDataset(
        "blobs", ("absent", "present"), train, _blobs(48, 2), _blobs(48, 3), mean, std
    )


@pytest.fixture
def fit_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the training loops that really run."""
    calls: list[int] = []
    original = train_module.fit

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "fit", counting)
    return calls


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_shallow_cnn_learns_a_separable_task(dataset: ImageDataset) -> None:
    state = torch.get_rng_state()
    trained = train_model("shallow-cnn", dataset, TINY, seed=0, progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is left as found
    assert not trained.model.training and not trained.from_cache and trained.checkpoint is None
    assert trained.test_metrics.accuracy > 0.9
    assert min(trained.test_metrics.recall) > 0.8
    assert trained.history.epochs == 5 and trained.seconds > 0
    assert trained.history.train_loss[-1] < trained.history.train_loss[0]
    assert trained.model_options == {
        "input_mean": dataset.pixel_mean,
        "input_std": dataset.pixel_std,
    }
    # The metrics describe the returned model on the test split.
    _, predictions = evaluate(trained.model, dataset.test, 7)
    assert trained.test_metrics == classification_metrics(dataset.test.labels, predictions, 2)


def test_best_epoch_rule(dataset: ImageDataset) -> None:
    config = TrainingConfig.fast(epochs=6, batch_size=16, lr=3e-3, min_epoch_for_best=4)
    trained = train_model("shallow-cnn", dataset, config, seed=2, progress=False)
    losses = trained.history.val_loss
    assert trained.best_epoch == 1 + min(range(3, 6), key=lambda e: losses[e])
    assert trained.best_epoch == trained.history.best_epoch(4)
    # The returned weights are the kept epoch's: re-evaluating gives its recorded loss.
    val_loss, predictions = evaluate(trained.model, dataset.val, 16)
    assert val_loss == pytest.approx(losses[trained.best_epoch - 1], rel=1e-5)
    accuracy = float((predictions == dataset.val.labels).float().mean())
    assert accuracy == pytest.approx(trained.history.val_accuracy[trained.best_epoch - 1])
    assert trained.history.lr == (3e-3,) * 6  # StepLR(8, 0.9) has not stepped yet
    last_only = dataclasses.replace(config, min_epoch_for_best=6)
    final = train_model("shallow-cnn", dataset, last_only, seed=2, progress=False)
    assert final.best_epoch == 6 and final.history == trained.history


def test_history_best_epoch_by_hand() -> None:
    history = TrainingHistory((1.0,) * 5, (0.5, 0.2, 0.4, 0.3, 0.3), (0.0,) * 5, (1e-3,) * 5)
    assert history.best_epoch() == 2
    assert history.best_epoch(3) == 4  # ties keep the earlier epoch
    assert history.best_epoch(5) == 5
    with pytest.raises(ValueError, match="expected min_epoch in"):
        history.best_epoch(6)
    assert TrainingHistory.from_dict(json.loads(json.dumps(history.to_dict()))) == history


def test_step_lr_schedule(dataset: ImageDataset) -> None:
    config = TrainingConfig.fast(epochs=5, batch_size=48, lr=1e-3, step_size=2, gamma=0.5)
    trained = train_model("shallow-cnn", dataset, config, seed=0, progress=False)
    assert trained.history.lr == pytest.approx((1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4))


def test_seeded_and_deterministic(dataset: ImageDataset) -> None:
    config = TrainingConfig.fast(epochs=2, batch_size=16, horizontal_flip=True)
    first = train_model("shallow-cnn", dataset, config, seed=7, progress=False)
    again = train_model("shallow-cnn", dataset, config, seed=7, progress=False)
    other = train_model("shallow-cnn", dataset, config, seed=8, progress=False)
    unflipped = dataclasses.replace(config, horizontal_flip=False)
    plain = train_model("shallow-cnn", dataset, unflipped, seed=7, progress=False)
    assert _same_weights(first.model, again.model) and first.history == again.history
    assert not _same_weights(first.model, other.model)
    assert not _same_weights(first.model, plain.model)
    assert first.cache_key == again.cache_key != other.cache_key != plain.cache_key


def test_resnet_is_returned_in_eval_mode(dataset: ImageDataset) -> None:
    def upsampled(split: ImageSplit, n: int) -> ImageSplit:  # 32 x 32, ResNet18's minimum
        return ImageSplit(split.images[:n].repeat(1, 1, 2, 2), split.labels[:n])

    parts = (upsampled(dataset.train, 32), upsampled(dataset.val, 16), upsampled(dataset.test, 16))
    data = ImageDataset("blobs32", dataset.class_names, *parts, 5.0, 1.0)
    config = TrainingConfig.fast(epochs=1, batch_size=16)
    trained = train_model("resnet18", data, config, seed=0, progress=False)
    assert not any(m.training for m in trained.model.modules())
    x = data.test.images[:4]
    with torch.no_grad():
        batched = trained.model(x)
        alone = torch.cat([trained.model(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, alone)  # samples do not interact


def test_cache_loads_instead_of_training(
    dataset: ImageDataset, tmp_path: Path, fit_calls: list[int]
) -> None:
    trained = train_model("shallow-cnn", dataset, TINY, seed=1, cache_dir=tmp_path, progress=False)
    assert len(fit_calls) == 1 and trained.checkpoint is not None and trained.checkpoint.exists()
    loaded = train_model("shallow-cnn", dataset, TINY, seed=1, cache_dir=tmp_path, progress=False)
    assert len(fit_calls) == 1 and loaded.from_cache and not loaded.model.training
    assert _same_weights(trained.model, loaded.model)
    for field in ("history", "best_epoch", "seconds", "test_metrics", "cache_key", "model_options"):
        assert getattr(loaded, field) == getattr(trained, field), field
    x = dataset.test.images
    with torch.no_grad():
        assert torch.equal(trained.model(x), loaded.model(x))
    # The entry, the lock file it was trained under (kept: see entry_lock), no temp files.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".lock", ".pt"]
    metadata = json.loads(trained.checkpoint.with_suffix(".json").read_text())
    assert metadata["key"] == trained.cache_key and metadata["identity"]["seed"] == 1
    train_model("shallow-cnn", dataset, TINY, seed=2, cache_dir=tmp_path, progress=False)
    assert len(fit_calls) == 2  # another seed is another entry


@pytest.mark.parametrize(
    "damage", ["garbage weights", "truncated weights", "no weights", "bad json", "foreign weights"]
)
def test_a_corrupt_cache_entry_is_retrained(
    dataset: ImageDataset, tmp_path: Path, fit_calls: list[int], damage: str
) -> None:
    config = TrainingConfig.fast(epochs=1, batch_size=16)
    trained = train_model(
        "shallow-cnn", dataset, config, seed=0, cache_dir=tmp_path, progress=False
    )
    weights = trained.checkpoint
    assert weights is not None
    if damage == "garbage weights":
        weights.write_bytes(b"not a checkpoint")
    elif damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "no weights":
        weights.unlink()
    elif damage == "foreign weights":  # readable and consistent, but not this model's
        files = CheckpointFiles(weights, weights.with_suffix(".json"))
        metadata = json.loads(files.metadata.read_text())
        save_checkpoint(files, {"w": torch.ones(2)}, metadata)
    else:
        weights.with_suffix(".json").write_text('{"key": ')
    with pytest.warns(RuntimeWarning, match="retraining"):
        again = train_model(
            "shallow-cnn", dataset, config, seed=0, cache_dir=tmp_path, progress=False
        )
    assert len(fit_calls) == 2 and not again.from_cache
    assert _same_weights(trained.model, again.model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = train_model(
            "shallow-cnn", dataset, config, seed=0, cache_dir=tmp_path, progress=False
        )
    assert len(fit_calls) == 2 and third.from_cache  # the entry was rewritten whole


def test_a_killed_write_leaves_the_old_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = CheckpointFiles.at(tmp_path, "entry")
    save_checkpoint(files, {"w": torch.ones(3)}, {"key": "k"})
    before = files.weights.read_bytes(), files.metadata.read_text()

    def killed(obj: Any, handle: Any) -> None:
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(files, {"w": torch.zeros(3)}, {"key": "k"})
    assert (files.weights.read_bytes(), files.metadata.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.json", "entry.pt"]


def test_every_input_of_the_key_changes_it(dataset: ImageDataset) -> None:
    def key(**changes: Any) -> str:
        arguments: dict[str, Any] = {
            "model_name": "shallow-cnn",
            "model_options": {"head": "gap"},
            "dataset": dataset,
            "config": TINY,
            "seed": 0,
        }
        arguments.update(changes)
        return cache_key(cache_identity(**arguments))

    base = key()
    assert key() == base
    changed = {
        "epochs": 6,
        "batch_size": 8,
        "lr": 2e-3,
        "weight_decay": 1e-4,
        "step_size": 3,
        "gamma": 0.5,
        "min_epoch_for_best": 2,
        "optimizer": "adamw",
        "horizontal_flip": True,
        "standardize_inputs": False,
        "eval_batch_size": 64,
        "adversarial": AdversarialTraining("pgd", 0.1),
    }
    assert set(changed) == {f.name for f in dataclasses.fields(TrainingConfig)}
    keys = {base}
    for name, value in changed.items():
        keys.add(key(config=dataclasses.replace(TINY, **{name: value})))
    keys.add(key(seed=1))
    keys.add(key(model_name="resnet18"))
    keys.add(key(model_options={"head": "flatten"}))
    keys.add(key(dataset=dataclasses.replace(dataset, name="blobs-2")))
    images = dataset.test.images.clone()
    images[5, 0, 3, 3] += 1e-3
    test = dataclasses.replace(dataset.test, images=images)
    keys.add(key(dataset=dataclasses.replace(dataset, test=test)))
    labels = dataset.train.labels.clone()
    labels[0] = 1 - labels[0]
    keys.add(
        key(
            dataset=dataclasses.replace(
                dataset, train=dataclasses.replace(dataset.train, labels=labels)
            )
        )
    )
    assert len(keys) == 1 + len(changed) + 6
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch, "__version__", "9.9.0")
        assert key() != base


def test_classification_metrics_by_hand() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 1, 2, 2, 2, 0, 2])
    m = classification_metrics(labels, predictions, num_classes=4)
    assert m.confusion == ((1, 2, 0, 0), (0, 1, 1, 0), (1, 0, 3, 0), (0, 0, 0, 0))
    assert m.accuracy == pytest.approx(5 / 9)
    # precision = diagonal / column sums, recall = diagonal / row sums, 0 where undefined.
    assert m.precision == pytest.approx((1 / 2, 1 / 3, 3 / 4, 0.0))
    assert m.recall == pytest.approx((1 / 3, 1 / 2, 3 / 4, 0.0))
    assert m.f1 == pytest.approx((2 / 5, 2 / 5, 3 / 4, 0.0))
    assert m.support == (3, 2, 4, 0)
    assert m.macro_precision == pytest.approx((1 / 2 + 1 / 3 + 3 / 4) / 4)
    assert m.macro_recall == pytest.approx((1 / 3 + 1 / 2 + 3 / 4) / 4)
    assert type(m).from_dict(json.loads(json.dumps(m.to_dict()))) == m
    with pytest.raises(ValueError, match="expected integer predictions"):
        classification_metrics(torch.tensor([0, 1]), torch.tensor([0, 2]), num_classes=2)
    with pytest.raises(ValueError, match="expected labels and predictions of the same"):
        classification_metrics(labels, predictions[:3], num_classes=4)


def test_training_config_presets_and_validation() -> None:
    paper = TrainingConfig.paper()
    assert (paper.optimizer, paper.lr, paper.step_size, paper.gamma) == ("adam", 3e-5, 8, 0.9)
    assert paper.min_epoch_for_best == 11 and paper.epochs >= 11
    fast = TrainingConfig.fast()
    assert fast == TrainingConfig() and fast.min_epoch_for_best == 1 and fast.lr == 1e-3
    assert TrainingConfig.from_dict({}) == fast
    assert TrainingConfig.from_dict({"preset": "paper", "epochs": 20}) == TrainingConfig.paper(
        epochs=20
    )
    assert TrainingConfig.from_dict(paper.to_dict()) == paper
    with pytest.raises(dataclasses.FrozenInstanceError):
        paper.lr = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="expected training keys among"):
        TrainingConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="expected preset"):
        TrainingConfig.from_dict({"preset": "slow"})
    with pytest.raises(ValueError, match="expected min_epoch_for_best <= epochs"):
        TrainingConfig(epochs=5, min_epoch_for_best=6)
    with pytest.raises(ValueError, match="expected lr"):
        TrainingConfig(lr=0.0)
    with pytest.raises(ValueError, match="expected optimizer"):
        TrainingConfig(optimizer="sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected batch_size"):
        TrainingConfig(batch_size=0)
    with pytest.raises(TypeError, match="expected horizontal_flip to be a bool"):
        TrainingConfig(horizontal_flip=1)  # type: ignore[arg-type]


def test_train_model_rejects_conflicting_options(dataset: ImageDataset) -> None:
    with pytest.raises(ValueError, match="expected a model name among"):
        train_model("alexnet", dataset, TINY)
    with pytest.raises(ValueError, match="expected no \\['input_mean'\\]"):
        train_model("shallow-cnn", dataset, TINY, model_options={"input_mean": 0.0})
    with pytest.raises(TypeError, match="expected a TrainingConfig"):
        train_model("shallow-cnn", dataset, {"epochs": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected JSON-serialisable model_options"):
        train_model("shallow-cnn", dataset, TINY, model_options={"head": object()})


def test_large_tensors_are_fingerprinted_by_sampled_rows_and_sums(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import comparisons.training._cache_key as key_module

    monkeypatch.setattr(key_module, "_FULL_HASH_BYTES", 1024)
    monkeypatch.setattr(key_module, "_SAMPLED_ROWS", 4)
    images = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    first = key_module.tensor_fingerprint(images)
    assert first["mode"] == "sampled4" and first["shape"] == [40, 1, 8, 8]
    assert key_module.tensor_fingerprint(images.clone()) == first
    changed = images.clone()
    changed[7, 0, 2, 2] += 0.25  # row 7 is not one of the 4 sampled rows (0, 13, 26, 39)
    assert key_module.tensor_fingerprint(changed)["hash"] != first["hash"]
    small = key_module.tensor_fingerprint(images[:2])
    assert small["mode"] == "full"
