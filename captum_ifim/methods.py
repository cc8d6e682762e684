"""Every attribution method by name: ``available_methods``, ``method_set``, ``get_method_spec``,
``build_method``, ``register_method``.

The public home of the registry (``captum_ifim/_methods/``) and of the target-layer choice
the CAMs use; the same names are also exported by :mod:`captum_ifim`.
"""

from captum_ifim._baselines._target_layers import default_target_layer
from captum_ifim._methods._custom_method import custom_method_spec
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._methods._registered_method import RegisteredMethod
from captum_ifim._methods._registry import (
    PAPER_METHODS,
    available_methods,
    build_method,
    get_method_spec,
    method_set,
    register_method,
)

__all__ = [
    "PAPER_METHODS",
    "MethodSpec",
    "RegisteredMethod",
    "available_methods",
    "build_method",
    "custom_method_spec",
    "default_target_layer",
    "get_method_spec",
    "method_set",
    "register_method",
]
