"""Your own methods in a config: ``[[methods.custom]]`` entries, checked when the config
loads, and the methods given in Python to :func:`comparisons.compare`.

An entry names a class (``class = "captum.attr.Occlusion"``), a factory (``factory =
"package.module:callable"``) or, written by ``compare``, a Python object
(``python_object``: its qualified class name and options, which the object itself is passed
again to run). Its facts (:data:`~captum_ifim._methods._custom_method.FACT_NAMES`) are read
from the class or declared, and recorded resolved, so the run folder's config says what was
called and a resumed run with another definition is another config, refused. Each entry
becomes a :class:`~captum_ifim.MethodSpec` of this config only: not registered, so two runs
may give one name two definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from captum_ifim import MethodSpec, available_methods
from captum_ifim._methods._custom_method import FACT_NAMES, custom_method_spec
from comparisons.config._custom_entry import checked_custom_entry

_SOURCES = ("class", "factory", "python_object")
_KEYS = ("name", *_SOURCES, "options", "attribute_options", "description", *FACT_NAMES)
_DEFAULT_FACTS = {
    "uses_target": True,
    "normalized_maps": False,
    "needs_background": False,
    "needs_target_layer": False,
}


@dataclass(frozen=True)
class CustomMethodEntry:
    """A method of your own in a config.

    Attributes:
        name: Its name in the results (not a registry name).
        source: ``"class"``, ``"factory"`` or ``"python_object"``.
        target: The class path, the factory path, or the Python object's description.
        options: Constructor (or factory) options.
        attribute_options: Options of every ``attribute`` call.
        facts: Every fact of :data:`FACT_NAMES`, resolved (read from the class or declared).
        description: One line for reports ("" for the default).
        spec: The method (``None`` for a Python object not given again).
    """

    name: str
    source: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    attribute_options: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, bool] = field(default_factory=dict)
    description: str = ""
    spec: MethodSpec | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The entry's ``[[methods.custom]]`` table."""
        table: dict[str, Any] = {"name": self.name, self.source: self.target}
        for key in ("options", "attribute_options", "description"):
            if getattr(self, key):
                table[key] = getattr(self, key)
        return {**table, **self.facts}

    def method_spec(self) -> MethodSpec:
        """The method's spec; for a Python object not given again, one with its facts whose
        building says to run it through :func:`comparisons.compare`."""
        if self.spec is not None:
            return self.spec

        def refuse(*_: Any) -> Any:
            raise ValueError(
                f"expected the method {self.name!r} given in Python to comparisons.compare "
                f"({self.target}), got none: run this run folder through compare with it"
            )

        facts: dict[str, Any] = dict(self.facts)
        return MethodSpec(self.name, self.description or self.target, factory=refuse, **facts)


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected {where} to be a table, got {type(value).__name__}")
    return dict(value)


def _entry(table: dict[str, Any], builtin: Sequence[str]) -> CustomMethodEntry:
    """One ``[[methods.custom]]`` table, checked, its class or factory imported."""
    name, where, source, target = checked_custom_entry(
        table, "methods.custom", "method", builtin, _KEYS, _SOURCES, "one of class or factory"
    )
    options = _table(f"{where} options", table.get("options", {}))
    attribute_options = _table(f"{where} attribute_options", table.get("attribute_options", {}))
    description = table.get("description", "")
    if not isinstance(description, str):
        raise TypeError(f"expected description in {where} to be a string, got {description!r}")
    declared = {fact: table[fact] for fact in FACT_NAMES if fact in table}
    for fact, value in declared.items():
        if not isinstance(value, bool):
            raise TypeError(f"expected {fact} in {where} to be true or false, got {value!r}")
    spec = None
    if source == "python_object":
        facts = {**_DEFAULT_FACTS, **declared}
    else:
        try:
            spec = custom_method_spec(
                name,
                target if source == "class" else None,
                factory=target if source == "factory" else None,
                options=options,
                attribute_options=attribute_options,
                description=description or None,
                **declared,
            )
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {error}") from None
        facts = {fact: bool(getattr(spec, fact)) for fact in FACT_NAMES}
    return CustomMethodEntry(
        name, source, target, options, attribute_options, facts, description, spec
    )


def parse_custom_methods(value: Any) -> tuple[CustomMethodEntry, ...]:
    """The ``[[methods.custom]]`` entries, each checked (name, class or factory imported,
    options against its signature, facts); names distinct and none a built-in's.

    Raises:
        ValueError, TypeError: The first bad entry, named.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"expected [[methods.custom]] entries, got {type(value).__name__}")
    builtin = available_methods()
    entries = tuple(_entry(_table("[[methods.custom]]", table), builtin) for table in value)
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"expected distinct [[methods.custom]] names, got {twice} twice")
    return entries


def with_custom_methods(
    names: tuple[str, ...], entries: Sequence[CustomMethodEntry]
) -> tuple[str, ...]:
    """The methods a run runs: ``names`` (which may place custom ones), then every custom
    method they do not name, in entry order."""
    return names + tuple(e.name for e in entries if e.name not in names)


def check_custom_method_options(
    entries: Sequence[CustomMethodEntry], method_options: Mapping[str, Any]
) -> None:
    """Refuse ``[methods.options.<name>]`` for a custom method (its options are its entry's)."""
    for entry in entries:
        if entry.name in method_options:
            raise ValueError(
                f"expected the options of {entry.name!r} in its [[methods.custom]] entry "
                "(options, attribute_options), got [methods.options." + entry.name + "]"
            )


@dataclass(frozen=True)
class PythonMethods:
    """The ``methods`` argument of :func:`comparisons.compare`, split.

    Attributes:
        names: A method set's name, or the method names in order.
        options: Options of the built-in methods given as ``{name: {options}}``.
        custom: The ``[[methods.custom]]`` tables of the objects (``python_object``).
        specs: The objects' specs, by name.
    """

    names: str | list[str]
    options: dict[str, dict[str, Any]]
    custom: list[dict[str, Any]]
    specs: dict[str, MethodSpec]


def split_python_methods(methods: Any) -> PythonMethods:
    """``methods`` of :func:`comparisons.compare`: a set's name, or names, ``(name, object)``
    pairs, or a mapping of a name to its options (a built-in) or to an object (your own: a
    :class:`MethodSpec` of :func:`captum_ifim.methods.custom_method_spec`, an attribution
    class or object, or a function ``f(inputs, target)``).

    Raises:
        TypeError: Another kind of value.
        ValueError: Options for a name that is not a built-in one, a spec named otherwise.
    """
    if isinstance(methods, str):
        return PythonMethods(methods, {}, [], {})
    items: list[tuple[str, Any]]
    if isinstance(methods, Mapping):
        items = list(methods.items())
    elif isinstance(methods, Sequence):
        items = [(m, None) if isinstance(m, str) else _pair(m) for m in methods]
    else:
        raise TypeError(
            "expected methods as a set's name, a list of names and (name, method) pairs, or a "
            f"mapping of names to options or methods, got {type(methods).__name__}"
        )
    builtin = available_methods()
    names, options, custom, specs = [], {}, [], {}
    for name, value in items:
        if not isinstance(name, str):
            raise TypeError(f"expected method names as strings, got {name!r}")
        names.append(name)
        if value is None or (isinstance(value, Mapping) and name in builtin):
            if value:
                options[name] = dict(value)
            continue
        if isinstance(value, Mapping):
            raise ValueError(
                f"expected options {dict(value)} for a built-in method, got {name!r}, which is "
                "not one: give your own method as an object (a class, an attribution object, a "
                "function f(inputs, target) or custom_method_spec(...))"
            )
        spec = value if isinstance(value, MethodSpec) else custom_method_spec(name, value)
        if spec.name != name:
            raise ValueError(
                f"expected the spec given as {name!r} to be named so, got {spec.name!r}"
            )
        specs[name] = spec
        facts = {fact: bool(getattr(spec, fact)) for fact in FACT_NAMES}
        custom.append({"name": name, "python_object": spec.description, **facts})
    return PythonMethods(names, options, custom, specs)


def _pair(item: Any) -> tuple[str, Any]:
    if not isinstance(item, tuple) or len(item) != 2:
        raise TypeError(f"expected a method name or a (name, method) pair, got {item!r}")
    return item[0], item[1]


def changed_custom_methods(stored: Any, entries: Sequence[CustomMethodEntry]) -> str:
    """Which of a config's own methods (``entries``) a stored config (its TOML layout)
    defines otherwise, as a sentence for a refusal, or ``""``."""
    custom = stored.get("methods", {}).get("custom", []) if isinstance(stored, Mapping) else []
    old = {t.get("name"): t for t in custom if isinstance(t, Mapping)}
    changes = []
    for entry in entries:
        new = entry.to_dict()
        if entry.name in old and old[entry.name] != new:
            changes.append(f"{entry.name!r} was {_called(old[entry.name])}, now {_called(new)}")
    return f"; your own method {'; '.join(changes)}" if changes else ""


def _called(table: Mapping[str, Any]) -> str:
    """What an entry calls: its class, factory or object, options and facts."""
    return ", ".join(f"{key}={table[key]!r}" for key in table if key != "name")
