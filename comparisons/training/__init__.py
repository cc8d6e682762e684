"""Training the harness's classifiers: the paper's protocol, a fast one, a checkpoint cache."""

from comparisons.training._adversarial_training import (
    AdversarialTraining,
    adversarial_examples,
    check_epsilon,
    data_width,
    robust_accuracy,
)
from comparisons.training._cache_key import (
    cache_identity,
    cache_key,
    dataset_fingerprint,
    file_fingerprint,
    given_model_identity,
    state_fingerprint,
    tensor_fingerprint,
)
from comparisons.training._checkpoint_cache import (
    CheckpointFiles,
    load_checkpoint,
    save_checkpoint,
)
from comparisons.training._classification_metrics import (
    ClassificationMetrics,
    classification_metrics,
)
from comparisons.training._config import TrainingConfig
from comparisons.training._fit import FitResult, evaluate, fit
from comparisons.training._train_model import model_build_options, train_model
from comparisons.training._trained_model import TrainedModel, TrainingHistory

__all__ = [
    "AdversarialTraining",
    "CheckpointFiles",
    "ClassificationMetrics",
    "FitResult",
    "TrainedModel",
    "TrainingConfig",
    "TrainingHistory",
    "adversarial_examples",
    "cache_identity",
    "cache_key",
    "check_epsilon",
    "classification_metrics",
    "data_width",
    "dataset_fingerprint",
    "evaluate",
    "file_fingerprint",
    "fit",
    "given_model_identity",
    "load_checkpoint",
    "model_build_options",
    "robust_accuracy",
    "save_checkpoint",
    "state_fingerprint",
    "tensor_fingerprint",
    "train_model",
]
