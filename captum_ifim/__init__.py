"""captum-ifim: the input-dependent Fisher information (iFIM) decomposition for Captum."""

from captum_ifim._baselines._cam_attribution import CAMAttribution
from captum_ifim._baselines._cam_variants import EigenCAM, GradCAM, GradCAMPlusPlus, XGradCAM
from captum_ifim._baselines._deepshap_attribution import DeepSHAP
from captum_ifim._baselines._deepshap_support import UnsupportedModelError
from captum_ifim._baselines._score_cam import ScoreCAM
from captum_ifim._baselines._target_layers import default_target_layer
from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition, IFIMResult
from captum_ifim._ifim._input_shares_figure import plot_input_shares
from captum_ifim._ifim._layer_ifim_decomposition import LayerIFIMDecomposition, LayerIFIMResult
from captum_ifim._ifim._token_ifim_decomposition import TokenIFIMDecomposition
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
from captum_ifim._model_outputs import LogitsModel, as_logits_model, logits_of
from captum_ifim._version import __version__

__all__ = [
    "PAPER_METHODS",
    "CAMAttribution",
    "DeepSHAP",
    "EigenCAM",
    "GradCAM",
    "GradCAMPlusPlus",
    "IFIMDecomposition",
    "IFIMResult",
    "LayerIFIMDecomposition",
    "LayerIFIMResult",
    "LogitsModel",
    "MethodSpec",
    "RegisteredMethod",
    "ScoreCAM",
    "TokenIFIMDecomposition",
    "UnsupportedModelError",
    "XGradCAM",
    "__version__",
    "as_logits_model",
    "available_methods",
    "build_method",
    "default_target_layer",
    "get_method_spec",
    "logits_of",
    "method_set",
    "plot_input_shares",
    "register_method",
]
