"""``MethodSpec``: what the registry knows about one attribution method, as data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._validation import UnknownOptionError

#: ``(model, target, background, constructor options) -> (method, fixed attribute
#: options)``; the CAM target (a :class:`~captum_ifim._baselines._target_layers.CAMTarget`,
#: or a layer) is chosen and the background checked before the call.
Factory = Callable[
    [nn.Module, Any, Tensor | None, dict[str, Any]],
    tuple[Attribution, dict[str, Any]],
]
#: Raises for a bad option value; gets the options already known to be valid names.
OptionCheck = Callable[[Mapping[str, Any]], None]
#: ``valid options -> {fact: value}``: the facts of the spec that the options change.
OptionFacts = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_PLAIN = (str, bool, int, float, type(None))


@dataclass(frozen=True)
class MethodSpec:
    """Facts of a registered method, so that a harness filters by data, not by name.

    Attributes:
        name: Registry name, e.g. ``"gradcam++"``.
        description: One line for reports.
        factory: Builds the method; use :func:`captum_ifim.build_method` rather than
            calling it.
        constructor_options: Options passed to the method's constructor.
        attribute_options: Options passed to every ``attribute`` call.
        check_values: Raises for a bad option value that can be seen without a model
            (the same checks the method itself makes); ``None`` checks names only.
        normalized_maps: Maps are rescaled per image (CAMs: ReLU and min-max to [0, 1]),
            with the default options; :meth:`facts` gives it for other options.
        needs_target_layer: Built on a layer's activations; ``build_method`` takes
            ``target_layer=`` or :func:`captum_ifim.default_target_layer`.
        needs_background: Needs reference inputs (``background=``).
        uses_target: The map depends on the target class (False for the iFIM, an
            expectation over p(y|x), and for Eigen-CAM).
        has_spectrum: :meth:`captum_ifim.RegisteredMethod.eigenvalues` gives per-input iFIM
            eigenvalues (eq. 8), which the harness records. True for ``"ifim-sensitive"``
            only: ``"ifim-insensitive"`` is the same decomposition, recorded once.
        low_map_method: The method whose map ranks the *low* pixel set in the contrastive
            perturbation test (eq. 24: ``"ifim-insensitive"`` for ``"ifim-sensitive"``);
            ``None`` means the method's own map.
        needs_module: Needs the model as an ``nn.Module`` (hooks on its layers, a copy of
            it); ``False``: ``build_method`` also takes a forward function, as Captum does.
        option_facts: The facts an option changes (a CAM's ``normalization="none"``: maps
            not rescaled); ``None``: no option changes a fact. Read through :meth:`facts`.

    Example:
        >>> from captum_ifim import get_method_spec
        >>> spec = get_method_spec("ifim-sensitive")
        >>> {"energy", "class_mass"} <= spec.options, spec.has_spectrum, spec.low_map_method
        (True, True, 'ifim-insensitive')
        >>> spec.check_options({"energy": 0.5})
        >>> try:
        ...     spec.check_options({"enrgy": 0.5})
        ... except ValueError as error:
        ...     print(type(error).__name__, isinstance(error, TypeError))
        UnknownOptionError True
    """

    name: str
    description: str
    factory: Factory = field(repr=False, compare=False)
    constructor_options: frozenset[str] = frozenset()
    attribute_options: frozenset[str] = frozenset()
    check_values: OptionCheck | None = field(default=None, repr=False, compare=False)
    normalized_maps: bool = False
    needs_target_layer: bool = False
    needs_background: bool = False
    uses_target: bool = True
    has_spectrum: bool = False
    low_map_method: str | None = None
    needs_module: bool = True
    option_facts: OptionFacts | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        shared = self.constructor_options & self.attribute_options
        if shared:
            raise ValueError(
                f"expected an option of {self.name!r} to go to the constructor or to "
                f"attribute, got {sorted(shared)} in both"
            )

    @property
    def options(self) -> frozenset[str]:
        """Every option the method takes (constructor and ``attribute``)."""
        return self.constructor_options | self.attribute_options

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise for an option the method does not take or a value it would refuse.

        Checks what can be checked without a model, before anything is built, with the
        method's own validation (e.g. ``energy`` in (0, 1], ``output`` an output head,
        positive batch sizes, a known CAM ``normalization``).

        Args:
            options: Option names and values, as passed to :func:`captum_ifim.build_method`.

        Raises:
            UnknownOptionError: An unknown option (a ``TypeError`` and a ``ValueError``);
                the message lists the valid ones.
            ValueError: A bad value.
            TypeError: A value of the wrong type, or ``options`` not a mapping.
        """
        if not isinstance(options, Mapping):
            raise TypeError(f"expected options as a mapping of names, got {type(options)}")
        unknown = sorted(str(name) for name in options if name not in self.options)
        if unknown:
            raise UnknownOptionError(
                f"expected options of {self.name!r} among {sorted(self.options)}, got {unknown}"
            )
        if self.check_values is not None:
            self.check_values(options)

    def facts(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The method's facts as plain values (name, description, flags) for ``options``.

        Args:
            options: The options the method is built with (``None``: its defaults), checked
                as :meth:`check_options` does.

        Returns:
            ``{field: value}`` of every field holding a string, number, bool or ``None``,
            with the facts the options change (e.g. ``normalized_maps`` is ``False`` for a
            CAM built with ``normalization="none"``).

        Raises:
            UnknownOptionError, ValueError, TypeError: As :meth:`check_options`.

        Example:
            >>> from captum_ifim import get_method_spec
            >>> spec = get_method_spec("gradcam")
            >>> signed = spec.facts({"normalization": "none"})
            >>> spec.facts()["normalized_maps"], signed["normalized_maps"]
            (True, False)
        """
        options = {} if options is None else options
        self.check_options(options)
        facts = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.compare and isinstance(getattr(self, f.name), _PLAIN)  # not the callables
        }
        changed = dict(self.option_facts(options)) if self.option_facts is not None else {}
        unknown = sorted(set(changed) - set(facts))
        if unknown:
            raise ValueError(
                f"expected the options of {self.name!r} to change facts among {sorted(facts)}, "
                f"got {unknown}"
            )
        return {**facts, **changed}

    def split_options(self, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(constructor options, attribute options)`` of valid ``options``."""
        return (
            {k: v for k, v in options.items() if k in self.constructor_options},
            {k: v for k, v in options.items() if k in self.attribute_options},
        )
