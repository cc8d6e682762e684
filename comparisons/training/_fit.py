"""The training loop: mini-batch cross-entropy, StepLR, keep the best validation epoch."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from comparisons.datasets._dataset import ImageSplit
from comparisons.training._adversarial_training import (
    AdversarialTraining,
    adversarial_examples,
    robust_accuracy,
)
from comparisons.training._config import TrainingConfig
from comparisons.training._trained_model import TrainingHistory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """The loop's outcome: the curves, the kept epoch and its weights (already loaded)."""

    history: TrainingHistory
    best_epoch: int
    best_state: dict[str, Tensor]


def fit(
    model: nn.Module,
    train: ImageSplit,
    val: ImageSplit,
    config: TrainingConfig,
    generator: torch.Generator,
    *,
    device: torch.device,
    progress: bool = True,
    description: str = "training",
    value_range: tuple[float, float] | None = None,
    attack_generator: torch.Generator | None = None,
) -> FitResult:
    """Train ``model`` in place and load the weights of the best validation epoch.

    Each epoch shuffles the training split with ``generator`` (a CPU generator, so the
    order is the same on every device), takes ``config.batch_size`` images per Adam step
    (a last batch of a single image is skipped: BatchNorm needs two), steps ``StepLR``,
    then evaluates the validation split in eval mode. The kept weights are those of the
    lowest validation loss among epochs ``config.min_epoch_for_best, ...`` (Sec. IV-B).

    With ``config.adversarial``, each (flipped) batch is attacked
    (:func:`~comparisons.training.adversarial_examples`, in eval mode) and the step's loss
    is ``mix * CE(adversarial) + (1 - mix) * CE(clean)``; for 0 < mix < 1 the clean and
    adversarial images go through the model as one batch (one BatchNorm update per step).
    ``train_loss`` records that loss. Validation stays clean (it picks the kept epoch);
    the validation accuracy under the attack is recorded as ``val_robust_accuracy``.

    Args:
        model: On ``device``; trained in place, left in eval mode.
        train, val: Images (N, C, H, W) or volumes (N, C, D, H, W), and labels (N,).
        config: Epochs, batch size, optimizer, schedule, best-epoch rule.
        generator: Shuffles and flips.
        device: Where the batches go.
        progress: A tqdm bar over epochs.
        description: The bar's label.
        value_range: The data's ``(low, high)``, which attacked images are clamped to.
        attack_generator: PGD's random starts (a CPU generator); ``None``: ``generator``.
            Separate, the shuffles and flips are those of clean training from the same
            seed.
    """
    adversarial = config.adversarial
    attack_generator = generator if attack_generator is None else attack_generator
    images, labels = train.images.to(device), train.labels.to(device)
    optimizer_class = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    curves: dict[str, list[float]] = {
        "train_loss": [],
        "val_loss": [],
        "val_accuracy": [],
        "lr": [],
        "val_robust_accuracy": [],
    }
    best_loss, best_epoch, best_state = float("inf"), 0, {}
    bar = tqdm(range(1, config.epochs + 1), desc=description, unit="epoch", disable=not progress)
    for epoch in bar:
        lr = optimizer.param_groups[0]["lr"]
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            if len(batch) < 2:
                continue
            x = images[batch.to(device)]
            if config.horizontal_flip:
                flip = torch.rand(len(batch), generator=generator) < 0.5
                flip = flip.to(device).reshape(-1, *([1] * (x.dim() - 1)))
                x = torch.where(flip, x.flip(-1), x)
            loss = _batch_loss(
                model, x, labels[batch.to(device)], adversarial, attack_generator, value_range
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        scheduler.step()
        val_loss, val_predictions = evaluate(model, val, config.eval_batch_size, device=device)
        val_accuracy = float((val_predictions == val.labels).to(torch.float64).mean())
        for name, value in zip(
            ("train_loss", "val_loss", "val_accuracy", "lr"),
            (total / max(seen, 1), val_loss, val_accuracy, lr),
            strict=True,
        ):
            curves[name].append(value)
        if adversarial is not None:
            robust = robust_accuracy(
                model,
                val,
                adversarial,
                torch.Generator().manual_seed(0),
                config.eval_batch_size,
                device,
                value_range=value_range,
            )
            curves["val_robust_accuracy"].append(robust)
        if epoch >= config.min_epoch_for_best and val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(train=f"{total / max(seen, 1):.4f}", val=f"{val_loss:.4f}")
        logger.debug(
            "%s epoch %d: train loss %.4f, val loss %.4f, val accuracy %.4f",
            description,
            epoch,
            total / max(seen, 1),
            val_loss,
            val_accuracy,
        )
    bar.close()
    if not best_state:  # every eligible validation loss was NaN
        best_epoch = config.epochs
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    history = TrainingHistory(**{name: tuple(curve) for name, curve in curves.items()})
    return FitResult(history, best_epoch, best_state)


def _batch_loss(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    adversarial: AdversarialTraining | None,
    generator: torch.Generator,
    value_range: tuple[float, float] | None,
) -> Tensor:
    """A training batch's loss: clean CE, or ``mix * CE(attacked) + (1 - mix) * CE(clean)``."""
    if adversarial is None or adversarial.mix == 0:
        return F.cross_entropy(model(x), y)
    attacked = adversarial_examples(
        model, x, y, adversarial, generator=generator, value_range=value_range
    )
    if adversarial.mix == 1:
        return F.cross_entropy(model(attacked), y)
    clean_logits, attacked_logits = model(torch.cat([x, attacked])).split(len(x))
    return adversarial.mix * F.cross_entropy(attacked_logits, y) + (
        1 - adversarial.mix
    ) * F.cross_entropy(clean_logits, y)


@torch.no_grad()
def evaluate(
    model: nn.Module, split: ImageSplit, batch_size: int, *, device: torch.device | str = "cpu"
) -> tuple[float, Tensor]:
    """Mean cross-entropy and predicted classes (N,) (on the CPU) in eval mode.

    The model's training flag is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        predictions = []
        for start in range(0, len(split), batch_size):
            x = split.images[start : start + batch_size].to(device)
            y = split.labels[start : start + batch_size].to(device)
            logits = model(x)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            predictions.append(logits.argmax(dim=1).cpu())
    finally:
        model.train(was_training)
    return total / len(split), torch.cat(predictions)
