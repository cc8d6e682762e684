"""What every figure writer returns, how it saves, and the method colours shared by all."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib import colormaps, rc_context
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from captum_ifim import available_methods
from comparisons._atomic import write_bytes

#: PNG resolution of every figure.
DPI = 150


@dataclass(frozen=True)
class FigureResult:
    """A written figure (or why it was not drawn).

    Attributes:
        path: The PNG, or ``None`` when nothing could be drawn.
        caption: One paragraph for the report.
        notes: What was skipped and why.
    """

    path: Path | None
    caption: str
    notes: tuple[str, ...] = field(default_factory=tuple)


#: Every figure is also written as these vector formats beside its PNG (for papers), with
#: the metadata that would change between runs removed.
VECTOR_FORMATS: dict[str, dict[str, None]] = {
    "pdf": {"CreationDate": None},
    "svg": {"Date": None},
}


def save_figure(figure: Figure, path: Path) -> Path:
    """Save as PNG at :data:`DPI`, and as PDF and SVG beside it (``path`` with the suffix
    replaced), with fixed metadata (the same bytes on every run).

    Drawn into memory, then written atomically: a full disk leaves the previous figure, never
    a truncated or empty PNG.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=DPI, format="png", metadata={"Software": None})
    write_bytes(path, buffer.getvalue())
    # The PNG's draw placed the axes (constrained layout); the PDF and SVG keep that placement
    # instead of laying the figure out twice more (a fifth of a report's time).
    engine = figure.get_layout_engine()
    if engine is not None:
        figure.set_layout_engine("none")
    try:
        for extension, metadata in VECTOR_FORMATS.items():
            buffer = io.BytesIO()
            with rc_context({"svg.hashsalt": "captum-ifim", "svg.fonttype": "path"}):
                figure.savefig(buffer, format=extension, metadata=metadata)
            write_bytes(path.with_suffix(f".{extension}"), buffer.getvalue())
    finally:
        if engine is not None:
            figure.set_layout_engine(engine)
    return path


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """One colour per method, fixed by the registry order so figures agree."""
    palette = colormaps["tab10"].colors + colormaps["Dark2"].colors  # type: ignore[attr-defined]
    registry = available_methods()
    extra = sorted(set(methods) - set(registry))
    order = registry + extra
    return {m: to_hex(palette[order.index(m) % len(palette)]) for m in methods}
