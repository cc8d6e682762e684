"""pytorch-grad-cam's CAM variants: each names its library class.

The template, :class:`~captum_ifim.CAMAttribution`, does the rest: one hooked pass, one
target per image, the library's map from the recorded map and gradient, nothing left on
the model. A variant overrides ``_cam_image`` only where the library needs more: options
(KPCA-CAM, FEM), a seeded draw (RandomCAM), its own pass (ShapleyCAM's second derivative),
per-image ablation (Ablation-CAM); Finer-CAM only changes the score the template
differentiates and the library's targets; FullGrad reads every bias layer rather than one.
Score-CAM is in ``_score_cam.py``. ``takes_volumes`` is False for the two that refuse
(N, C, D, H, W) volumes.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from captum_ifim._baselines._cam_attribution import CAMAttribution, Normalization, RecordedPass
from captum_ifim._baselines._sample_forward import bind_forward, bind_sample_forward
from captum_ifim._baselines._score_cam import _quiet_progress_bar
from captum_ifim._baselines._target_layers import CAMTarget
from captum_ifim._baselines._training_flags import training_flags_restored
from captum_ifim._captum_compat import TargetType
from captum_ifim._optional_imports import import_optional
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_choice, check_positive_int


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


# pytorch-grad-cam's other CAMs ------------------------------------------------------------


class HiResCAM(CAMAttribution):
    """HiResCAM (Draelos & Carin, 2020): the element-wise product of gradient and map,
    summed over channels, ``sum_k (dy_t / dA_k) * A_k``; the map's sum is then the
    first-order change of the score. Args: see :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.hirescam", "HiResCAM")


class GradCAMElementWise(CAMAttribution):
    """Grad-CAM element-wise: HiResCAM's product rectified before the channel sum,
    ``sum_k relu((dy_t / dA_k) * A_k)``. Args: see :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.grad_cam_elementwise", "GradCAMElementWise")


class EigenGradCAM(CAMAttribution):
    """Eigen-Grad-CAM: Eigen-CAM of the gradient-weighted map ``(dy_t / dA) * A`` (the
    projection on its first principal component; the SVD's sign is arbitrary). Args: see
    :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.eigen_grad_cam", "EigenGradCAM")


class LayerCAM(CAMAttribution):
    """LayerCAM (Jiang et al., 2021): positions weighted by the positive gradient,
    ``sum_k relu(dy_t / dA_k) * A_k``. Args: see :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.layer_cam", "LayerCAM")


class SegEigenCAM(CAMAttribution):
    """Seg-Eigen-CAM (Chung & Ying, 2025): Eigen-CAM of ``|dy_t / dA| * A`` with the sign
    chosen so that the larger extreme of the projection is positive. Written for
    segmentation; on a classifier ``y_t`` is the class score. Args: see
    :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.seg_eigen_cam", "SegEigenCAM")


#: Kernels of ``sklearn.decomposition.KernelPCA`` that KPCA-CAM takes ("precomputed" needs
#: a kernel matrix, which a CAM cannot give).
KPCA_KERNELS: tuple[str, ...] = ("linear", "poly", "rbf", "sigmoid", "cosine")


def check_kpca_settings(kernel: str = "sigmoid", gamma: float | None = None) -> None:
    """Raise unless ``kernel`` is one of :data:`KPCA_KERNELS` and ``gamma`` is ``None`` or a
    finite number > 0."""
    check_choice("kernel", kernel, KPCA_KERNELS)
    if gamma is not None:
        _check_real(gamma, "gamma")
        if not gamma > 0:
            raise ValueError(f"expected gamma > 0 or None, got {gamma!r}")


class KPCACAM(CAMAttribution):
    """KPCA-CAM (Karmani et al., 2024): Eigen-CAM with kernel PCA, the positions' first
    kernel principal component (``sklearn.decomposition.KernelPCA``). Gradient-free and
    class-agnostic: ``target`` is checked but does not change the map. The solver starts
    from a fixed vector (``random_state=0``; the library leaves it to NumPy's global
    generator above 200 positions), so the map is the same at every call.

    Args:
        kernel: One of :data:`KPCA_KERNELS` (pytorch-grad-cam's default ``"sigmoid"``).
        gamma: The kernel coefficient; ``None`` is scikit-learn's ``1 / channels``.
        Others: see :class:`CAMAttribution`.
    """

    _library = ("pytorch_grad_cam.kpca_cam", "KPCA_CAM")
    uses_gradients = False

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        kernel: str = "sigmoid",
        gamma: float | None = None,
    ) -> None:
        check_kpca_settings(kernel, gamma)
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.kernel = kernel
        self.gamma = gamma

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        # pytorch-grad-cam's get_2d_projection_kernel, with the solver's start fixed: above
        # 200 positions scikit-learn's ARPACK starts from a vector drawn from NumPy's global
        # generator (random_state=None), and the map would change from call to call.
        kernel_pca = import_optional("sklearn.decomposition", type(self).__name__).KernelPCA
        projections = []
        for activation in recorded.activations:
            positions = activation.reshape(activation.shape[0], -1).T
            positions = positions - positions.mean(axis=0)
            decomposition = kernel_pca(
                n_components=1, kernel=self.kernel, gamma=self.gamma, random_state=0
            )
            projection = decomposition.fit_transform(positions)
            projections.append(projection.reshape(activation.shape[1:]))
        return np.stack(projections).astype(np.float32)


def check_fem_settings(k: float = 2.0) -> None:
    """Raise unless ``k`` is a finite number."""
    _check_real(k, "k")


class FEM(CAMAttribution):
    """FEM, the feature explanation method (Fuad et al., 2020): each channel weighted by
    the fraction of its positions above its mean plus ``k`` standard deviations.
    Gradient-free and class-agnostic: ``target`` is checked but does not change the map.
    No z-score exceeds ``sqrt(positions - 1)``, so on a map of ``1 + k**2`` positions or
    fewer (2 x 2 for ``k=2``) every weight is 0 and a call warns.

    Args:
        k: The threshold in standard deviations (pytorch-grad-cam's default 2).
        Others: see :class:`CAMAttribution`.
    """

    _library = ("pytorch_grad_cam.fem", "FEM")
    uses_gradients = False

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        k: float = 2.0,
    ) -> None:
        check_fem_settings(k)
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.k = k

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        positions = math.prod(recorded.activations.shape[2:])
        if positions - 1 <= self.k**2:  # no z-score exceeds sqrt(positions - 1)
            warnings.warn(
                f"fem's threshold, mean + {self.k} standard deviations, cannot be exceeded on "
                f"the target layer's map of {positions} positions (it needs more than "
                f"1 + k**2), so every channel weighs 0 and the map is zero: use larger inputs, "
                "an earlier target_layer= or a smaller k=",
                stacklevel=2,
            )
        cam.k = self.k
        return super()._cam_image(cam, recorded)


def check_random_cam_settings(seed: int = 0) -> None:
    """Raise unless ``seed`` is an int in [0, 2**32), a seed of ``numpy.random.RandomState``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"expected seed to be an int in [0, 2**32), got {seed!r}")


class RandomCAM(CAMAttribution):
    """RandomCAM, the sanity baseline: the target layer's channels weighted by draws from
    U(-1, 1). A method that does no better than it in a benchmark explains nothing.

    pytorch-grad-cam draws the weights from NumPy's global generator, one row per image;
    here they come from ``numpy.random.RandomState(seed)``, drawn anew at every call, and
    one row of weights serves every image. So a map is a function of the image and the
    seed only: the same for a batch and one by one, and whatever else drew from a global
    generator before. (The library's map of one image after ``numpy.random.seed(seed)`` is
    the same map.) Gradient-free and class-agnostic: ``target`` is checked but does not
    change the map.

    Args:
        seed: Seeds the weights; an int in [0, 2**32).
        Others: see :class:`CAMAttribution`.
    """

    _library = ("pytorch_grad_cam.random_cam", "RandomCAM")
    uses_gradients = False

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        seed: int = 0,
    ) -> None:
        check_random_cam_settings(seed)
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.seed = seed

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        channels = recorded.activations.shape[1]
        weights = np.random.RandomState(self.seed).uniform(-1, 1, size=channels)
        return np.einsum("k,nk...->n...", weights, recorded.activations)


class ShapleyCAM(CAMAttribution):
    """ShapleyCAM (Cai et al., 2025): Grad-CAM's weights with a second-order term, the
    spatial mean of ``dy_t / dA - H A / 2`` (``H`` the Hessian of the score with respect
    to the map, ``H A`` one Hessian-vector product), a Shapley-value reading of CAM.
    Equal to Grad-CAM where the score is piecewise linear in the map (a ReLU network's
    logit). One forward pass with a double backward (the template's pass runs without
    gradients), with attention computed by PyTorch's math kernel, the one with a second
    derivative. Args: see :class:`CAMAttribution`."""

    _library = ("pytorch_grad_cam.shapley_cam", "ShapleyCAM")
    uses_gradients = False  # its own pass below keeps the graph for the second derivative

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        x, targets = recorded.x, recorded.targets
        # Attention's fused kernels have no second derivative: the math kernel has.
        math_attention = sdpa_kernel([SDPBackend.MATH])
        with torch.enable_grad(), math_attention, _raw_outputs([self.target]) as (raw,):
            x_in = x.clone().requires_grad_()
            outputs = bind_forward(self.model, recorded.extra)(x_in)
            _check_ran_once(self.target, raw)
            layer_output = raw[0]
            score = outputs.gather(1, targets[:, None].to(outputs.device)).sum()
            (gradient,) = torch.autograd.grad(score, layer_output, create_graph=True)
            hvp = None
            if gradient.requires_grad:  # else the score is linear in the map
                (hvp,) = torch.autograd.grad(
                    gradient, layer_output, grad_outputs=layer_output, allow_unused=True
                )
            combined = gradient.detach() - 0.5 * (hvp.detach() if hvp is not None else 0)
        if self.reshape_transform is not None:
            combined = self.reshape_transform(combined)
        weights = combined.flatten(2).mean(2).cpu().numpy()
        return np.einsum("nk,nk...->n...", weights, recorded.activations)


#: FinerCAM's comparison classes by default: the 1st to 3rd most similar to the target.
FINER_COMPARISONS: tuple[int, ...] = (1, 2, 3)


def check_finer_cam_settings(
    alpha: float = 1.0, comparison_categories: Sequence[int] = FINER_COMPARISONS
) -> None:
    """Raise unless ``alpha`` is a finite number and ``comparison_categories`` a non-empty
    sequence of distinct positive ints (ranks of similarity: 1 is the most similar)."""
    _check_real(alpha, "alpha")
    ranks = comparison_categories
    if (
        isinstance(ranks, (str, bytes))
        or not isinstance(ranks, Sequence)
        or not ranks
        or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ranks)
        or len(set(ranks)) != len(ranks)
    ):
        raise ValueError(
            "expected comparison_categories to be a non-empty sequence of distinct positive "
            f"ints (similarity ranks, 1 the most similar class), got {comparison_categories!r}"
        )


class FinerCAM(CAMAttribution):
    """Finer-CAM (Zhang et al., 2025): Grad-CAM of the target's score *against the classes
    most like it*, so the map shows what tells the target apart from its neighbours.

    The score is pytorch-grad-cam's ``FinerWeightedTarget``: ``sum_j p_j (y_t - alpha y_j)
    / sum_j p_j`` over the comparison classes ``j`` (``p`` the softmax). The comparison
    classes of each image are those whose logits are closest to its target's, at the
    similarity ranks ``comparison_categories`` (1 the closest; ranks beyond the number of
    other classes are dropped), as the library chooses them for its predicted class; here
    for whatever ``target`` is given. The template's one pass differentiates that score.

    Args:
        alpha: The comparison strength (library default 1; 0 gives Grad-CAM of ``y_t``).
        comparison_categories: Similarity ranks of the comparison classes (default 1, 2, 3).
        Others: see :class:`CAMAttribution`.

    Raises:
        ValueError: At a call, for a model with one output: there is no class to compare.
    """

    _library = ("pytorch_grad_cam.finer_cam", "FinerCAM")

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        alpha: float = 1.0,
        comparison_categories: Sequence[int] = FINER_COMPARISONS,
    ) -> None:
        check_finer_cam_settings(alpha, comparison_categories)
        super().__init__(model, target_layer, reshape_transform, normalization)
        # The library's FinerCAM is its base method (GradCAM) with a weighted target.
        self._cam_class = import_optional("pytorch_grad_cam.grad_cam", "FinerCAM").GradCAM
        self.alpha = alpha
        self.comparison_categories = tuple(comparison_categories)

    def finer_targets(self, outputs: Tensor, targets: Tensor) -> list[Any]:
        """pytorch-grad-cam's ``FinerWeightedTarget`` of each image for its target.

        Args:
            outputs: The logits (N, C).
            targets: One class per image (N,).
        """
        if outputs.shape[1] < 2:
            raise ValueError(
                "expected a model with at least 2 outputs for finercam (it compares the "
                f"target with the classes most like it), got {outputs.shape[1]}"
            )
        finer_weighted_target = self._targets.FinerWeightedTarget
        logits = outputs.detach().cpu().numpy()
        chosen = targets.cpu().numpy()
        distance = np.abs(logits - logits[np.arange(len(chosen)), chosen][:, None])
        library_targets = []
        for row, target in zip(np.argsort(distance, axis=-1), chosen.tolist(), strict=True):
            ranked = [target] + [int(c) for c in row if c != target]
            others = [ranked[r] for r in self.comparison_categories if r < len(ranked)]
            library_targets.append(finer_weighted_target(target, others, self.alpha))
        return library_targets

    def _target_score(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """The sum of the images' ``FinerWeightedTarget`` scores."""
        finer = self.finer_targets(outputs, targets)
        return sum(t(o) for t, o in zip(finer, outputs, strict=True))

    def _library_targets(self, recorded: RecordedPass) -> list[Any]:
        return self.finer_targets(recorded.outputs, recorded.targets)


class AblationCAM(CAMAttribution):
    """Ablation-CAM (Desai & Ramaswamy, 2020): each channel's weight is the relative drop
    of the target score when the channel is ablated, ``(y_t - y_t^{(k)}) / y_t``.
    Gradient-free; one forward pass per channel and image (slow: 512 per image at
    ResNet's ``layer4``), ``batch_size`` at a time.

    pytorch-grad-cam's ``AblationCAM`` swaps the target layer in the model for an ablation
    layer that returns the recorded map with channels set to 0 (to far below the map's
    minimum where that is not 0, as after a LayerNorm; the library lowers that value
    further for each channel of a batch); the swap is undone after every image, also after
    an error. Maps of a reshaped layer (ViT tokens, Swin's channels-last maps) get the
    library's ``AblationLayerVit``, which ablates the last dimension: a custom
    ``reshape_transform`` must read channels-last outputs too. Images only: the
    library's ablation batches are built for (N, C, H, W) inputs.

    Args:
        batch_size: Ablated copies per forward pass (library default 32).
        Others: see :class:`CAMAttribution`.

    Raises:
        ValueError: At a call, for volumes (N, C, D, H, W).
    """

    _library = ("pytorch_grad_cam.ablation_cam", "AblationCAM")
    uses_gradients = False
    takes_volumes = False

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        batch_size: int = 32,
    ) -> None:
        check_positive_int(batch_size, "batch_size")
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.batch_size = batch_size

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        x, activations = recorded.x, recorded.activations
        _refuse_volumes("ablationcam", x, "its ablation batches tile (C, H, W) images")
        layers = import_optional("pytorch_grad_cam.ablation_layer", type(self).__name__)
        cam.batch_size = self.batch_size
        reshaped = self.reshape_transform is not None
        cam.ablation_layer = layers.AblationLayerVit() if reshaped else layers.AblationLayer()
        library_targets = self._library_targets(recorded)
        maps = []
        with _quiet_progress_bar(import_optional(self._library[0], type(self).__name__)):
            for index in range(x.shape[0]):
                # One image at a time, so per-sample extra arguments match the copies.
                cam.model = _SampleModel(self.model, recorded.extra, index, x.shape[0])
                try:
                    maps.append(
                        cam.get_cam_image(
                            x[index : index + 1],
                            self.target_layer,
                            library_targets[index : index + 1],
                            activations[index : index + 1],
                            None,
                            False,
                        )
                    )
                finally:
                    _undo_ablation(self.model, cam, self.target_layer)
        return np.concatenate(maps)


class FullGrad(CAMAttribution):
    """FullGrad (Srinivas & Fleuret, 2019): the input-gradient term ``|x * dy_t/dx|`` plus,
    for every ``Conv2d`` and ``BatchNorm2d`` with a bias, the bias-gradient term
    ``sum_k |b_k * dy_t/dz_k|`` of its output ``z``, each min-max scaled and resized to the
    input, summed, and min-max scaled again (pytorch-grad-cam's ``FullGrad``).

    It reads every bias layer of the model, so it takes no target layer, no reshape and
    no ``normalization`` (the map is built from scaled terms). A bias layer that runs twice
    in a pass is refused; one that does not run adds nothing. Images only: the library's
    bias layers are 2-D ones.

    Args:
        model: A classifier returning (N, classes) outputs, run in eval mode; its flags
            are restored afterwards.

    Raises:
        ValueError: At a call, for volumes (N, C, D, H, W), or a bias layer run twice.
    """

    _library = ("pytorch_grad_cam.fullgrad_cam", "FullGrad")
    takes_volumes = False

    def __init__(self, model: nn.Module) -> None:  # no target layer: every bias layer
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
        self._bind_library(model)
        self.normalization: Normalization = "relu-minmax"

    def _maps(self, x: Tensor, target: TargetType, extra: tuple[Any, ...]) -> Tensor:
        names = {id(module): name for name, module in self.model.named_modules()}
        with training_flags_restored(self.model):
            cam = self._cam_class(self.model, [])
            cam.activations_and_grads.release()  # its constructor hooks every bias layer
            layers = [CAMTarget(layer, names.get(id(layer), "?")) for layer in cam.target_layers]
            with torch.enable_grad(), _raw_outputs(layers) as recorded:
                x_in = x.clone().requires_grad_()
                outputs = bind_forward(self.model, extra)(x_in)
                targets = resolve_targets(target, outputs)
                _refuse_volumes("fullgrad", x, "its bias layers are Conv2d and BatchNorm2d")
                ran = [index for index, record in enumerate(recorded) if record]
                for index in ran:
                    _check_ran_once(layers[index], recorded[index])
                score = outputs.gather(1, targets[:, None]).sum()
                gradients = torch.autograd.grad(
                    score, [x_in, *(recorded[i][0] for i in ran)], allow_unused=True
                )
        x_in.grad = _zero_if_none(gradients[0], x_in)
        cam.bias_data = [cam.bias_data[i] for i in ran]
        cam.activations_and_grads.gradients = [
            _zero_if_none(g, recorded[i][0]).detach().cpu()
            for i, g in zip(ran, gradients[1:], strict=True)
        ]
        maps = cam.aggregate_multi_layers(cam.compute_cam_per_layer(x_in, None, False))
        return torch.from_numpy(maps)


def _check_real(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"expected {name} to be a finite number, got {value!r}")


def _refuse_volumes(name: str, x: Tensor, why: str) -> None:
    if x.dim() == 5:
        raise ValueError(
            f"expected images (N, C, H, W) for {name} (pytorch-grad-cam's {why}), got "
            f"volumes of shape {tuple(x.shape)}; for volumes use a CAM that takes them "
            "(gradcam, hirescam, layercam, ...: docs/baselines.md lists them)"
        )


@contextlib.contextmanager
def _raw_outputs(targets: Sequence[CAMTarget]) -> Iterator[list[list[Tensor]]]:
    """The layers' outputs as they are (in the graph), one list per layer, hooked only
    inside the block."""
    recorded: list[list[Tensor]] = [[] for _ in targets]
    handles = [
        target.layer.register_forward_hook(
            lambda module, args, output, record=record: record.append(output)
        )
        for target, record in zip(targets, recorded, strict=True)
    ]
    try:
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


def _check_ran_once(target: CAMTarget, recorded: list[Tensor]) -> None:
    if len(recorded) != 1:
        raise ValueError(
            f"expected the layer {target.name!r} to run once per forward pass, it ran "
            f"{len(recorded)} times; choose a layer that is not reused"
        )
    if not isinstance(recorded[0], Tensor):
        raise TypeError(
            f"expected the layer {target.name!r} to return a tensor, got "
            f"{type(recorded[0]).__name__}; choose another target_layer="
        )


def _zero_if_none(gradient: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if gradient is None else gradient


class _SampleModel(nn.Module):
    """The model with sample ``index``'s extra arguments bound, for the library's calls
    on copies of that sample; the model is a child, so the library finds the target layer
    inside it (it swaps the layer for its ablation layer)."""

    def __init__(self, model: nn.Module, extra: tuple[Any, ...], index: int, count: int) -> None:
        super().__init__()
        self.inner = model
        self._forward = bind_sample_forward(model, extra, index, count)

    def forward(self, x: Tensor) -> Any:
        return self._forward(x)


def _undo_ablation(model: nn.Module, cam: Any, layer: nn.Module) -> None:
    """Put the target layer back where the library's ablation layer may still be (after an
    error midway) and remove the hook the library may have left on it."""
    swap = import_optional("pytorch_grad_cam.utils.find_layers", "AblationCAM")
    swap.replace_layer_recursive(model, cam.ablation_layer, layer)
    for key, hook in list(layer._forward_hooks.items()):
        if hook == cam.save_activation:
            del layer._forward_hooks[key]
    cam.ablation_layer.activations = None  # the library keeps the last batch of maps there
