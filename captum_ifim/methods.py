"""Every attribution method by name: ``available_methods``, ``get_method_spec``, ``build_method``,
``register_method``.

The public home of the registry (``captum_ifim/_methods/``) and of the target-layer choice
the CAMs use; the same names are also exported by :mod:`captum_ifim`.
"""

from captum_ifim._baselines._target_layers import default_target_layer
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._methods._registered_method import RegisteredMethod
from captum_ifim._methods._registry import (
    available_methods,
    build_method,
    get_method_spec,
    register_method,
)

__all__ = [
    "MethodSpec",
    "RegisteredMethod",
    "available_methods",
    "build_method",
    "default_target_layer",
    "get_method_spec",
    "register_method",
]
