"""The harness's classifiers, from scratch: the paper's shallow CNN, ResNet18 and VGG16, a
small ViT and a hybrid conv-stem ViT; for volumes, the shallow CNN in 3-D and a 3-D ResNet-18."""

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
from comparisons.models._resnet3d import BasicBlock3d, ResNet3d18
from comparisons.models._shallow_cnn import ShallowCNN, ShallowCNN3d
from comparisons.models._standardize import Standardize
from comparisons.models._vgg import vgg16
from comparisons.models._vit import SmallViT, hybrid_vit, vit
from comparisons.models._weights import Checkpoint, load_weights, read_checkpoint

__all__ = [
    "MODELS",
    "ZOOS",
    "BasicBlock3d",
    "Checkpoint",
    "InputPreprocessing",
    "ModelSpec",
    "PreprocessedModel",
    "ResNet3d18",
    "ShallowCNN",
    "ShallowCNN3d",
    "SmallViT",
    "Standardize",
    "available_models",
    "build_factory_model",
    "build_model",
    "build_zoo_model",
    "get_model_spec",
    "hybrid_vit",
    "load_weights",
    "read_checkpoint",
    "resnet18",
    "vgg16",
    "vit",
]
