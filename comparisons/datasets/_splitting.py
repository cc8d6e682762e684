"""Deterministic group-wise splits and per-class caps for the on-disk datasets."""

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
