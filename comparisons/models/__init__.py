"""The harness's classifiers: the paper's shallow CNN, ResNet18 and VGG16, from scratch."""

from comparisons.models._external import ZOOS, build_factory_model, build_zoo_model
from comparisons.models._preprocessing import InputPreprocessing, PreprocessedModel
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
from comparisons.models._weights import Checkpoint, load_weights, read_checkpoint

__all__ = [
    "MODELS",
    "ZOOS",
    "Checkpoint",
    "InputPreprocessing",
    "ModelSpec",
    "PreprocessedModel",
    "ShallowCNN",
    "Standardize",
    "available_models",
    "build_factory_model",
    "build_model",
    "build_zoo_model",
    "get_model_spec",
    "load_weights",
    "read_checkpoint",
    "resnet18",
    "vgg16",
]
