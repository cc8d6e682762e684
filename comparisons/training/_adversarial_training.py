"""Adversarial training: each training batch replaced (or joined) by its FGSM or PGD attack.

The attack maximizes the cross-entropy of the true label within the L-infinity ball of
radius ``epsilon`` around each image (Madry et al., 2018, "Towards deep learning models
resistant to adversarial attacks"; FGSM: Goodfellow et al., 2015). The training loss of a
batch is ``mix * CE(adversarial) + (1 - mix) * CE(clean)`` (:func:`comparisons.training.fit`).
Epsilon is in pixel units, the units of the dataset's raw images (the registry's models
standardize inside, so the attack sees what attributions see).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from captum_ifim._baselines._training_flags import training_flags_restored
from comparisons.datasets._dataset import ImageDataset, ImageSplit

Attack = Literal["fgsm", "pgd"]
ATTACKS: tuple[str, ...] = ("fgsm", "pgd")
#: Madry et al.'s PGD step: 2.5 * epsilon / steps, so the steps can cross the ball.
PGD_STEP_FACTOR = 2.5


@dataclass(frozen=True)
class AdversarialTraining:
    """How each training batch is attacked (a ``[models.training.adversarial]`` table).

    ``"fgsm"`` is one signed-gradient step of size ``epsilon`` from the clean image (its
    ``steps`` is 1, its ``step_size`` is ``epsilon``, no random start; other values are an
    error). ``"pgd"`` starts uniformly in the ball (``random_start``), takes ``steps``
    signed-gradient steps of ``step_size``, each projected back into the ball (and into the
    dataset's value range when it has one).

    Attributes:
        attack: ``"fgsm"`` or ``"pgd"``.
        epsilon: L-infinity radius in pixel units, finite and > 0.
        steps: Gradient steps, an int >= 1; ``None``: 3 for PGD, 1 for FGSM.
        step_size: Each step's size; ``None``: ``2.5 * epsilon / steps`` for PGD (Madry et
            al.), ``epsilon`` for FGSM.
        random_start: PGD starts from a uniform draw in the ball; ``None``: true for PGD,
            false for FGSM.
        mix: The share of each batch's loss on its adversarial images, in [0, 1]: 1.0
            trains on adversarial images only, 0.5 weighs clean and adversarial equally.

    After construction every field holds its resolved value (``steps``, ``step_size`` and
    ``random_start`` are never ``None``; ``epsilon`` and ``mix`` are floats), so a config
    spelt with and without its defaults is one config with one cache key.

    >>> pgd = AdversarialTraining("pgd", 0.3)
    >>> pgd.steps, pgd.step_size, pgd.random_start, pgd.mix
    (3, 0.25, True, 1.0)
    """

    attack: Attack
    epsilon: float
    steps: int | None = None
    step_size: float | None = None
    random_start: bool | None = None
    mix: float = 1.0

    def __post_init__(self) -> None:
        if self.attack not in ATTACKS:
            raise ValueError(f"expected attack 'fgsm' or 'pgd', got {self.attack!r}")
        epsilon = _positive_number("epsilon", self.epsilon)
        fgsm = self.attack == "fgsm"
        steps = self.steps if self.steps is not None else (1 if fgsm else 3)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"expected steps to be an int >= 1, got {self.steps!r}")
        if self.step_size is None:
            step_size = epsilon if fgsm else PGD_STEP_FACTOR * epsilon / steps
        else:
            step_size = _positive_number("step_size", self.step_size)
        random_start = (not fgsm) if self.random_start is None else self.random_start
        if not isinstance(random_start, bool):
            raise TypeError(f"expected random_start to be a bool, got {self.random_start!r}")
        if fgsm and (steps != 1 or step_size != epsilon or random_start):
            raise ValueError(
                "expected FGSM with steps = 1, step_size = epsilon and random_start = false "
                f"(or none of them given), got steps = {steps}, step_size = {step_size}, "
                f"random_start = {random_start}: use attack = 'pgd' for several or random steps"
            )
        if isinstance(self.mix, bool) or not isinstance(self.mix, int | float):
            raise TypeError(f"expected mix to be a number in [0, 1], got {self.mix!r}")
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"expected mix in [0, 1], got {self.mix!r}")
        for name, value in (
            ("epsilon", epsilon),
            ("steps", steps),
            ("step_size", step_size),
            ("random_start", random_start),
            ("mix", float(self.mix)),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdversarialTraining:
        """From a mapping of the fields (a TOML table); ``attack`` and ``epsilon`` required."""
        if not isinstance(data, Mapping):
            raise TypeError(f"expected the adversarial training as a table, got {data!r}")
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"expected adversarial keys among {fields}, got {unknown}")
        missing = [name for name in ("attack", "epsilon") if name not in data]
        if missing:
            raise ValueError(f"expected adversarial keys {missing}, got {sorted(data)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The resolved fields (``from_dict(a.to_dict()) == a``)."""
        return dataclasses.asdict(self)


def adversarial_examples(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    attack: AdversarialTraining,
    *,
    generator: torch.Generator | None = None,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """The attack's images: ``x + delta``, ``|delta|_inf <= epsilon``, raising CE(f(x), y).

    Generated with the model in eval mode, every module's training flag restored afterwards:
    BatchNorm uses its running statistics, so an image's attack does not depend on the rest
    of the batch, the attack's forward passes leave the running statistics alone, and
    dropout draws nothing (MadryLab's ``robustness`` library does the same). The model's parameter
    gradients are left as found (only the input is differentiated).

    Args:
        model: The classifier, outputs (N, C) logits.
        images: (N, C, *spatial) clean images, on the model's device; left unchanged.
        labels: (N,) true labels.
        attack: The attack.
        generator: A CPU generator for PGD's random start (drawn on the CPU, so the start
            is the same on every device); required when ``attack.random_start``.
        value_range: ``(low, high)`` to clamp every iterate to (the dataset's
            ``value_range``); ``None``: no clamp.

    Returns:
        The adversarial images (N, C, *spatial), detached, dtype and device of ``images``.
    """
    if attack.random_start and generator is None:
        raise ValueError("expected a generator for the PGD random start, got None")
    epsilon, step = float(attack.epsilon), float(attack.step_size or 0.0)
    images, labels = images.detach(), labels.detach()
    if attack.random_start:
        noise = torch.rand(images.shape, generator=generator, dtype=images.dtype)
        delta = ((2 * noise - 1) * epsilon).to(images.device)
    else:
        delta = torch.zeros_like(images)
    delta = _project(images, delta, epsilon, value_range)
    with training_flags_restored(model):
        model.eval()
        for _ in range(int(attack.steps or 1)):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(images + delta), labels, reduction="sum")
            (gradient,) = torch.autograd.grad(loss, delta)
            delta = _project(images, delta.detach() + step * gradient.sign(), epsilon, value_range)
    return (images + delta).detach()


def _project(
    images: Tensor, delta: Tensor, epsilon: float, value_range: tuple[float, float] | None
) -> Tensor:
    """``delta`` clipped to the ball, then ``images + delta`` clipped to the value range."""
    delta = delta.clamp(-epsilon, epsilon)
    if value_range is not None:
        delta = (images + delta).clamp(*value_range) - images
    return delta


def robust_accuracy(
    model: nn.Module,
    split: ImageSplit,
    attack: AdversarialTraining,
    generator: torch.Generator,
    batch_size: int,
    device: torch.device | str = "cpu",
    *,
    value_range: tuple[float, float] | None = None,
) -> float:
    """Accuracy of ``model`` (in eval mode; its flags restored) on ``split`` under ``attack``.

    Each batch of ``batch_size`` images is attacked (:func:`adversarial_examples`, random
    starts from ``generator``), then classified; the share of correct classes is returned.

    A linear model that says class 1 when the mean pixel is > 0: the two images within 0.1
    of the boundary fall to FGSM at epsilon 0.1, the two others do not.

    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4])), model[1].bias.zero_()
    >>> means = torch.tensor([-0.5, 0.05, -0.05, 0.5]).reshape(4, 1, 1, 1)
    >>> split = ImageSplit(means.expand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]))
    >>> robust_accuracy(model, split, AdversarialTraining("fgsm", 0.1), torch.Generator(), 2)
    0.5
    """
    if len(split) == 0:
        raise ValueError("expected a split with images, got an empty one")
    correct = 0
    with training_flags_restored(model):
        model.eval()
        for start in range(0, len(split), batch_size):
            x = split.images[start : start + batch_size].to(device)
            y = split.labels[start : start + batch_size].to(device)
            adversarial = adversarial_examples(
                model, x, y, attack, generator=generator, value_range=value_range
            )
            with torch.no_grad():
                correct += int((model(adversarial).argmax(dim=1) == y).sum())
    return correct / len(split)


def data_width(dataset: ImageDataset) -> float:
    """The width of the data's values: of ``value_range`` when declared, else max - min of
    the training images."""
    if dataset.value_range is not None:
        low, high = dataset.value_range
        return float(high) - float(low)
    images = dataset.train.images
    return float(images.max() - images.min()) if images.numel() else 0.0


def check_epsilon(
    attack: AdversarialTraining, dataset: ImageDataset, model: str, label: str | None = None
) -> None:
    """Refuse an epsilon at least as wide as the data (:func:`data_width`): such a ball
    holds every image of the other class, so the attack is meaningless.

    Args:
        attack: The model's attack.
        dataset: The data it trains on (whole, so the width is the data's).
        model, label: The model's and the dataset's names for the message.

    Raises:
        ValueError: ``attack.epsilon >= data_width(dataset)``.
    """
    width = data_width(dataset)
    if attack.epsilon >= width:
        source = "value_range" if dataset.value_range is not None else "training images' max - min"
        raise ValueError(
            f"[[models]] {model!r} on dataset {label or dataset.name!r}: expected an attack "
            f"epsilon below the width of the data ({width:.6g}, its {source}), got "
            f"epsilon = {attack.epsilon:.6g}"
        )


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected {name} to be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected {name} to be a finite number > 0, got {value!r}")
    return float(value)
