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
from captum._utils.typing import TargetType
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS
from captum.attr._utils.batching import _tuple_splice_range
from captum.log import log_usage
from captum.metrics._core.sensitivity import default_perturb_func

#: The integration rules of Captum's ``IntegratedGradients(method=...)``.
INTEGRATION_METHODS: tuple[str, ...] = tuple(SUPPORTED_METHODS)

__all__ = [
    "INTEGRATION_METHODS",
    "TargetType",
    "_format_additional_forward_args",
    "_format_output",
    "_format_tensor_into_tuples",
    "_is_tuple",
    "_run_forward",
    "_tuple_splice_range",
    "default_perturb_func",
    "log_usage",
]
