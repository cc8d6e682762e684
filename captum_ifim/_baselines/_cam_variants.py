"""Grad-CAM, Grad-CAM++, XGrad-CAM and Eigen-CAM: each names its pytorch-grad-cam class.

The template, :class:`~captum_ifim.CAMAttribution`, does the rest; Score-CAM, which also
overrides how the library computes the map, is in ``_score_cam.py``.
"""

from __future__ import annotations

from captum_ifim._baselines._cam_attribution import CAMAttribution


class GradCAM(CAMAttribution):
    """Grad-CAM (Selvaraju et al., 2017): channel weights are the spatially averaged
    gradients of the target score, ``w_k = mean_ij dy_t / dA_kij``; map ``sum_k w_k A_k``.

    Args: see :class:`CAMAttribution`.

    Example:
        >>> import torch
        >>> from captum_ifim import GradCAM
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> GradCAM(model, model[1]).attribute(torch.randn(2, 3, 8, 8), target=[0, 1]).shape
        torch.Size([2, 3, 8, 8])
    """

    _library = ("pytorch_grad_cam.grad_cam", "GradCAM")


class GradCAMPlusPlus(CAMAttribution):
    """Grad-CAM++ (Chattopadhay et al., 2018): weights from second- and third-order
    gradient terms (their eq. 19) on the positive gradients. Args: see
    :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.grad_cam_plusplus", "GradCAMPlusPlus")


class XGradCAM(CAMAttribution):
    """XGrad-CAM (Fu et al., 2020): ``w_k = sum_ij (dy_t / dA_kij) A_kij / sum_ij A_kij``.
    Args: see :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.xgrad_cam", "XGradCAM")


class EigenCAM(CAMAttribution):
    """Eigen-CAM (Muhammad & Yeasin, 2020): the projection of the centred activations on
    their first principal component. Gradient-free and class-agnostic: ``target`` is
    checked but does not change the map. The SVD fixes the sign arbitrarily, so the signed
    map (``normalization="none"``) may come out negated. Args: see
    :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.eigen_cam", "EigenCAM")
    uses_gradients = False
