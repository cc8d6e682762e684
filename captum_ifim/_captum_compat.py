"""The one place that imports Captum's private helpers.

Captum does not promise stability for ``captum._utils``; keeping every such import
here means a Captum refactor breaks one file.
"""

from captum._utils.common import (
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    _run_forward,
)
from captum._utils.models import linear_model
from captum._utils.typing import TargetType
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR as DEEPLIFT_NON_LINEAR
from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES as LRP_LAYERS_WITH_RULES
from captum.attr._core.lrp import SUPPORTED_NON_LINEAR_LAYERS as LRP_NON_LINEAR_LAYERS
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS
from captum.attr._utils.batching import _tuple_splice_range
from captum.attr._utils.custom_modules import Addition_Module
from captum.attr._utils.lrp_rules import IdentityRule
from captum.log import log_usage
from captum.metrics._core.sensitivity import default_perturb_func

#: The integration rules of Captum's ``IntegratedGradients(method=...)``.
INTEGRATION_METHODS: tuple[str, ...] = tuple(SUPPORTED_METHODS)

__all__ = [
    "DEEPLIFT_NON_LINEAR",
    "INTEGRATION_METHODS",
    "LRP_LAYERS_WITH_RULES",
    "LRP_NON_LINEAR_LAYERS",
    "Addition_Module",
    "IdentityRule",
    "TargetType",
    "_format_additional_forward_args",
    "_format_output",
    "_format_tensor_into_tuples",
    "_is_tuple",
    "_run_forward",
    "_tuple_splice_range",
    "default_perturb_func",
    "linear_model",
    "log_usage",
]
