"""Deterministic group-wise and stratified splits and per-class caps for the on-disk datasets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")


def group_split(groups: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split examples so that no group (patient) is on both sides.

    A seeded permutation of the sorted unique groups sends the first
    ``round(fraction * num_groups)`` groups (at least one when ``fraction > 0``) to the held-out
    side.

    Returns:
        ``(kept, held_out)`` index arrays into ``groups``, each ascending.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"expected a fraction in [0, 1), got {fraction}")
    unique = np.array(sorted(set(groups)), dtype=object)
    order = np.random.default_rng(seed).permutation(len(unique))
    count = round(fraction * len(unique))
    if fraction > 0:
        count = min(max(count, 1), len(unique) - 1)
    held = set(unique[order[:count]].tolist())
    is_held = np.array([g in held for g in groups], dtype=bool)
    return np.nonzero(~is_held)[0], np.nonzero(is_held)[0]


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """A seeded split that keeps each class's share in every split.

    Per class (in label order), a seeded permutation sends ``round(test_fraction * n_c)``
    examples to test and ``round(val_fraction * n_c)`` to validation, each at least one when
    its fraction is > 0 and the class has an example left for training; the rest train.
    ``test_fraction == 1`` sends everything to test (``val_fraction`` is then ignored).

    Returns:
        ``{"train": ..., "val": ..., "test": ...}`` ascending index arrays into ``labels``.

    >>> parts = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, 0.25, seed=0)
    >>> [len(parts[s]) for s in SPLIT_NAMES]
    [4, 2, 2]
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"expected {name} in [0, 1], got {value!r}")
    if test_fraction < 1 and val_fraction + test_fraction > 1:
        raise ValueError(
            f"expected val_fraction + test_fraction <= 1, got {val_fraction} + {test_fraction}"
        )
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLIT_NAMES}
    for c in np.unique(labels):
        idx = rng.permutation(np.nonzero(labels == c)[0])
        counts: list[int] = []
        for fraction in (test_fraction, val_fraction):
            count = round(fraction * len(idx))
            if 0 < fraction < 1 and count == 0 and len(idx) - sum(counts) > 1:
                count = 1
            counts.append(min(count, len(idx) - sum(counts)))
        n_test, n_val = counts
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    return {
        split: np.sort(np.concatenate(chunks)) if chunks else np.arange(0)
        for split, chunks in parts.items()
    }


def per_split_caps(max_per_class: int | Mapping[str, int] | None) -> dict[str, int | None]:
    """Normalise ``max_per_class``: one int for every split, or a ``{split: int}`` mapping."""
    if max_per_class is None:
        return dict.fromkeys(SPLIT_NAMES)
    if isinstance(max_per_class, Mapping):
        unknown = set(max_per_class) - set(SPLIT_NAMES)
        if unknown:
            raise ValueError(
                f"expected max_per_class keys among {SPLIT_NAMES}, got {sorted(unknown)}"
            )
        caps = {s: max_per_class.get(s) for s in SPLIT_NAMES}
    else:
        caps = dict.fromkeys(SPLIT_NAMES, max_per_class)
    for split, cap in caps.items():
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"expected max_per_class[{split!r}] a positive integer, got {cap!r}")
    return caps


def check_seed(seed: int) -> None:
    """Refuse anything but a non-negative integer (the splits and caps seed NumPy with it)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"expected a non-negative integer seed, got {seed!r}")


def cap_seed(seed: int, split: str) -> int:
    """The seed of split ``split``'s cap: ``seed + 1`` (train), ``+ 2`` (val), ``+ 3`` (test).

    One rule for every on-disk dataset, so that one seed picks the same capped examples from
    the same listing whichever loader read it.
    """
    return seed + 1 + SPLIT_NAMES.index(split)


def cap_splits(
    labels: Mapping[str, np.ndarray], caps: Mapping[str, int | None], seed: int
) -> dict[str, np.ndarray]:
    """Per split, the ascending indices into ``labels[split]`` that its per-class cap keeps.

    Args:
        labels: ``{split: (N_split,) labels}`` for the three splits.
        caps: From :func:`per_split_caps`.
        seed: The user's seed; split ``s`` draws with :func:`cap_seed` ``(seed, s)``.
    """
    return {s: cap_per_class(labels[s], caps[s], cap_seed(seed, s)) for s in SPLIT_NAMES}


def cap_per_class(labels: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """At most ``cap`` examples of each class, chosen by a seeded draw; ascending indices."""
    if cap is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        keep.append(idx if len(idx) <= cap else rng.choice(idx, size=cap, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)
