"""The training loop: mini-batch cross-entropy, StepLR, keep the best validation epoch."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from comparisons.datasets._dataset import ImageSplit
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
) -> FitResult:
    """Train ``model`` in place and load the weights of the best validation epoch.

    Each epoch shuffles the training split with ``generator`` (a CPU generator, so the
    order is the same on every device), takes ``config.batch_size`` images per Adam step
    (a last batch of a single image is skipped: BatchNorm needs two), steps ``StepLR``,
    then evaluates the validation split in eval mode. The kept weights are those of the
    lowest validation loss among epochs ``config.min_epoch_for_best, ...`` (Sec. IV-B).

    Args:
        model: On ``device``; trained in place, left in eval mode.
        train, val: Images (N, C, H, W) or volumes (N, C, D, H, W), and labels (N,).
        config: Epochs, batch size, optimizer, schedule, best-epoch rule.
        generator: Shuffles and flips.
        device: Where the batches go.
        progress: A tqdm bar over epochs.
        description: The bar's label.
    """
    images, labels = train.images.to(device), train.labels.to(device)
    optimizer_class = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    curves: dict[str, list[float]] = {
        "train_loss": [],
        "val_loss": [],
        "val_accuracy": [],
        "lr": [],
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
            loss = F.cross_entropy(model(x), labels[batch.to(device)])
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
    history = TrainingHistory(
        *(tuple(curves[n]) for n in ("train_loss", "val_loss", "val_accuracy", "lr"))
    )
    return FitResult(history, best_epoch, best_state)


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
