"""The harness's classifiers: the paper's shallow CNN, ResNet18 and VGG16, from scratch."""

from comparisons.models._registry import (
    MODELS,
    ModelSpec,
    available_models,
    build_model,
    get_model_spec,
)
from comparisons.models._resnet import resnet18
from comparisons.models._shallow_cnn import ShallowCNN
from comparisons.models._standardize import Standardize
from comparisons.models._vgg import vgg16

__all__ = [
    "MODELS",
    "ModelSpec",
    "ShallowCNN",
    "Standardize",
    "available_models",
    "build_model",
    "get_model_spec",
    "resnet18",
    "vgg16",
]
