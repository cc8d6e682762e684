"""Lazy imports of the optional ``compare`` dependencies, with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

#: Import name -> distribution name on PyPI.
_DISTRIBUTIONS: dict[str, str] = {
    "pytorch_grad_cam": "grad-cam",
    "shap": "shap",
    "skimage": "scikit-image",
    "torchvision": "torchvision",
}


def import_optional(module: str, needed_for: str) -> ModuleType:
    """Import an optional dependency, or raise ``ImportError`` saying how to install it.

    Args:
        module: The import name, e.g. ``"pytorch_grad_cam.grad_cam"``.
        needed_for: What needs it, for the message, e.g. ``"GradCAM"``.

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        distribution = _DISTRIBUTIONS.get(top, top)
        raise ImportError(
            f"{needed_for} needs the optional package {distribution!r}, which could not be "
            f"imported ({error}); install it with `pip install captum-ifim[compare]`"
        ) from error
