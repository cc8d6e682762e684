"""Every attribution method by name: ``available_methods``, ``get_method_spec``, ``build_method``.

A public home for the registry in :mod:`captum_ifim._methods._registry`; the same names are also
exported by :mod:`captum_ifim`.
"""

from captum_ifim._methods._registry import (
    MethodSpec,
    RegisteredMethod,
    available_methods,
    build_method,
    default_target_layer,
    get_method_spec,
)

__all__ = [
    "MethodSpec",
    "RegisteredMethod",
    "available_methods",
    "build_method",
    "default_target_layer",
    "get_method_spec",
]
