"""The layer a CAM weights: the single place where target layers are chosen and resolved.

A CAM weights the channels of one layer's map; "drop-in" means that layer, and the reshape
its output needs, are chosen without user input. :func:`default_cam_target` decides:

1. **A family rule**, when the model is, or contains (a wrapper such as
   ``Sequential(normalize, resnet)``), a network of a known family (:data:`FAMILY_RULES`,
   matched by ``isinstance`` on classes of packages already imported; the outermost such
   network wins). Each rule names the map the classifier pools, and for token layouts the
   reshape (:mod:`._reshape_transforms`).
2. **The general rule** otherwise: the last spatial feature map before global pooling.
   A probe forward pass (zeros shaped for the first convolution's ``in_channels`` and
   dimensionality, 64 px in 2-D and 32 voxels in 3-D; forward hooks removed and training
   flags restored afterwards) records the order in which modules finish. The target is
   the last module to finish whose output is channels-first with the last convolution's
   spatial grid, that runs once per pass and is not an ``nn.Sequential`` (whose output is
   its last child's): the rectified map of the last convolution for a plain CNN, the
   block output for residual or dense blocks, never a map after a pooling that changes
   the grid. When the probe cannot run (an input size the model
   refuses), the last ``nn.Conv2d``/``nn.Conv3d`` is taken, or the activation following it
   in its ``nn.Sequential`` (after normalization layers).

:func:`cam_target` applies ``target_layer=`` and ``reshape_transform=`` overrides; the
registry and the CAM classes go through it, :func:`default_target_layer` and
:func:`resolve_target_layer`. :func:`target_layer_rules` gives the table of
``docs/baselines.md``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from captum_ifim._baselines._reshape_transforms import ChannelsLastToFirst, TokensToGrid
from captum_ifim._baselines._training_flags import training_flags_restored
from captum_ifim._model_outputs import LogitsModel

ReshapeTransform = Callable[[Tensor], Tensor]

#: Modules taken as the activation after the last convolution (fallback of the general rule).
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.PReLU,
    nn.ReLU6,
    nn.Hardswish,
)
#: Normalization layers allowed between the last convolution and its activation.
NORMALIZATIONS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)
#: Convolutions whose maps a CAM can weight (2-D images, 3-D volumes).
CONVOLUTIONS: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Conv3d)
#: Side of the general rule's probe input, by number of spatial dimensions.
PROBE_SIDE: dict[int, int] = {2: 64, 3: 32}


@dataclass(frozen=True)
class CAMTarget:
    """What a CAM weights: a layer, how its output is read, and which rule chose it.

    Attributes:
        layer: A submodule of the model, run once per forward pass.
        name: Its qualified name in the model (``"layer4.1"``).
        reshape_transform: Maps the layer's output, and its gradient, to (N, K, *spatial)
            channels-first maps; ``None`` when it already is.
        then_relu: The model applies a functional ReLU right after the layer
            (torchvision DenseNet's ``F.relu`` after ``features.norm5``), so the map the
            classifier pools is the rectified output: the CAM weights ``relu(A)``. The
            gradient is the layer output's, which is the rectified map's wherever the ReLU
            is on and zero where it is off (as autograd gives it through any ReLU); the
            model is not changed.
        rule: The family rule that chose it, ``"general rule"``, or ``"given"``.
    """

    layer: nn.Module
    name: str
    reshape_transform: ReshapeTransform | None = None
    then_relu: bool = False
    rule: str = "given"


@dataclass(frozen=True)
class FamilyRule:
    """A known family's target layer and reshape, as data (one row of the docs table).

    Attributes:
        family: The family as the table names it.
        module, class_name: The class whose instances the rule applies to (subclasses
            too), looked up in ``sys.modules`` so no package is imported for the check.
        layer: Dotted path from the family's network; ``-1`` is the last child, and a
            last part ``<activation>`` the activation after the last convolution of the
            module before it (as the general rule's fallback finds it).
        then_relu: See :attr:`CAMTarget.then_relu`.
        reshape: Builds the reshape transform from the family's network; ``None``: none.
        reshape_text: The reshape as the table describes it.
        every_layer_reshaped: The reshape also applies to a ``target_layer=`` of this
            family that comes without ``reshape_transform=`` (every block of a ViT gives
            tokens, every Swin stage channels-last maps).
    """

    family: str
    module: str
    class_name: str
    layer: str
    then_relu: bool = False
    reshape: Callable[[nn.Module], ReshapeTransform] | None = field(default=None, compare=False)
    reshape_text: str = "none"
    every_layer_reshaped: bool = False

    def network_class(self) -> type[nn.Module] | None:
        """The class, when its package is imported."""
        module = sys.modules.get(self.module)
        found = getattr(module, self.class_name, None) if module is not None else None
        return found if isinstance(found, type) else None

    @property
    def layer_text(self) -> str:
        """The path as written in Python (``layer4[-1]``), with "then ReLU" if so."""
        parent, _, last = self.layer.rpartition(".")
        if last == "<activation>":
            return f"the activation after the last convolution of `{parent}`"
        parts = self.layer.split(".")
        text = "".join(f"[{p}]" if p.lstrip("-").isdigit() else f".{p}" for p in parts)
        text = f"`{text.lstrip('.')}`"
        return f"{text}, then ReLU" if self.then_relu else text


def _torchvision_vit_grid(model: nn.Module) -> ReshapeTransform:
    image_size: Any = model.image_size
    patch_size: Any = model.patch_size
    side = int(image_size) // int(patch_size)
    return TokensToGrid(1, (side, side))


def _timm_vit_grid(model: nn.Module) -> ReshapeTransform:
    grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    fixed = grid is not None and not getattr(model, "dynamic_img_size", False)
    prefix = int(getattr(model, "num_prefix_tokens", 1))
    return TokensToGrid(prefix, (int(grid[0]), int(grid[1])) if fixed else None)  # type: ignore[index]


def _hf_patch_grid(model: nn.Module) -> tuple[int, int]:
    """(h, w) patches of a Hugging Face vision transformer at its config's image size."""
    config: Any = model.config
    size, patch = config.image_size, config.patch_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
    return int(size[0]) // int(patch[0]), int(size[1]) // int(patch[1])


def _hf_vit_grid(model: nn.Module) -> ReshapeTransform:
    return TokensToGrid(1, _hf_patch_grid(model))


def _hf_deit_grid(model: nn.Module) -> ReshapeTransform:
    return TokensToGrid(2, _hf_patch_grid(model))  # class and distillation tokens


def _hf_swin_grid(model: nn.Module) -> ReshapeTransform:
    height, width = _hf_patch_grid(model)
    merges = 2 ** (len(model.config.depths) - 1)  # type: ignore[union-attr, arg-type]
    return TokensToGrid(0, (height // merges, width // merges))


_TOKENS = "tokens to a grid, class token dropped"
_CHANNELS_LAST = "(N, H, W, C) permuted to (N, C, H, W)"

#: The family rules, most specific first (a subclass before its base).
FAMILY_RULES: tuple[FamilyRule, ...] = (
    FamilyRule(
        "torchvision ResNet, ResNeXt, Wide-ResNet", "torchvision.models.resnet", "ResNet",
        "layer4.-1",
    ),
    FamilyRule(
        "torchvision VGG", "torchvision.models.vgg", "VGG", "features.<activation>",
    ),
    FamilyRule(
        "torchvision DenseNet", "torchvision.models.densenet", "DenseNet", "features.norm5",
        then_relu=True,
    ),
    FamilyRule(
        "torchvision EfficientNet v1, v2", "torchvision.models.efficientnet", "EfficientNet",
        "features.-1",
    ),
    FamilyRule(
        "torchvision MobileNet v2", "torchvision.models.mobilenetv2", "MobileNetV2",
        "features.-1",
    ),
    FamilyRule(
        "torchvision MobileNet v3", "torchvision.models.mobilenetv3", "MobileNetV3",
        "features.-1",
    ),
    FamilyRule("torchvision ConvNeXt", "torchvision.models.convnext", "ConvNeXt", "features.-1"),
    FamilyRule("torchvision RegNet", "torchvision.models.regnet", "RegNet", "trunk_output"),
    FamilyRule(
        "torchvision ViT", "torchvision.models.vision_transformer", "VisionTransformer",
        "encoder.layers.-1.ln_1", reshape=_torchvision_vit_grid, reshape_text=_TOKENS,
        every_layer_reshaped=True,
    ),
    FamilyRule(
        "torchvision Swin v1, v2", "torchvision.models.swin_transformer", "SwinTransformer",
        "norm", reshape=lambda model: ChannelsLastToFirst(), reshape_text=_CHANNELS_LAST,
        every_layer_reshaped=True,
    ),
    FamilyRule("timm ResNet", "timm.models.resnet", "ResNet", "layer4.-1"),
    FamilyRule("timm ConvNeXt", "timm.models.convnext", "ConvNeXt", "stages.-1"),
    FamilyRule("timm EfficientNet", "timm.models.efficientnet", "EfficientNet", "bn2"),
    FamilyRule(
        "timm ViT, DeiT", "timm.models.vision_transformer", "VisionTransformer",
        "blocks.-1.norm1", reshape=_timm_vit_grid,
        reshape_text="tokens to a grid, `num_prefix_tokens` dropped (class, distillation, "
        "register tokens)",
        every_layer_reshaped=True,
    ),
    FamilyRule(
        "Hugging Face ViT (ViTForImageClassification)",
        "transformers.models.vit.modeling_vit", "ViTForImageClassification",
        "vit.layers.-1.layernorm_before", reshape=_hf_vit_grid, reshape_text=_TOKENS,
        every_layer_reshaped=True,
    ),
    FamilyRule(
        "Hugging Face DeiT (DeiTForImageClassification)",
        "transformers.models.deit.modeling_deit", "DeiTForImageClassification",
        "deit.layers.-1.layernorm_before", reshape=_hf_deit_grid,
        reshape_text="tokens to a grid, class and distillation tokens dropped",
        every_layer_reshaped=True,
    ),
    FamilyRule(
        "Hugging Face DeiT with teacher (DeiTForImageClassificationWithTeacher)",
        "transformers.models.deit.modeling_deit", "DeiTForImageClassificationWithTeacher",
        "deit.layers.-1.layernorm_before", reshape=_hf_deit_grid,
        reshape_text="tokens to a grid, class and distillation tokens dropped",
        every_layer_reshaped=True,
    ),
    FamilyRule(
        "Hugging Face Swin (SwinForImageClassification)",
        "transformers.models.swin.modeling_swin", "SwinForImageClassification",
        "swin.layernorm", reshape=_hf_swin_grid,
        reshape_text="tokens (N, h * w, C) to a grid, no class token", every_layer_reshaped=True,
    ),
    FamilyRule(
        "Hugging Face ConvNeXt (ConvNextForImageClassification)",
        "transformers.models.convnext.modeling_convnext", "ConvNextForImageClassification",
        "convnext.encoder.stages.-1",
    ),
    FamilyRule(
        "Hugging Face ResNet (ResNetForImageClassification)",
        "transformers.models.resnet.modeling_resnet", "ResNetForImageClassification",
        "resnet.encoder.stages.-1",
    ),
    FamilyRule(
        "MONAI DenseNet (DenseNet121, ...), 2-D and 3-D", "monai.networks.nets.densenet",
        "DenseNet", "class_layers.relu",
    ),
    FamilyRule("MONAI ResNet, 2-D and 3-D", "monai.networks.nets.resnet", "ResNet", "layer4.-1"),
    FamilyRule(
        "MONAI SENet (SEResNet50, ...), 2-D and 3-D", "monai.networks.nets.senet", "SENet",
        "layer4.-1",
    ),
)  # fmt: skip

#: The general rule as the docs table states it.
GENERAL_RULE = (
    "any other CNN (general rule)",
    "the last spatial feature map before global pooling: the last module to finish, in a "
    "probe forward pass, with the last convolution's grid, run once",
    "none",
)


def target_layer_rules() -> list[tuple[str, str, str]]:
    """The rows of the target-layer table of ``docs/baselines.md``: (family, target layer,
    reshape transform), the family rules in the order they are tried, then the general
    rule. A test checks the page against this function."""
    rows = [(rule.family, rule.layer_text, rule.reshape_text) for rule in FAMILY_RULES]
    return [*rows, GENERAL_RULE]


def _walk(model: nn.Module, path: str) -> str:
    """The qualified name of ``path`` from ``model`` (``-1``: the last child)."""
    names: list[str] = []
    module = model
    for part in path.split("."):
        if part == "<activation>":
            return ".".join([*names, _last_convolution_activation(module)]).strip(".")
        children = list(module.named_children())
        if part.lstrip("-").isdigit() and int(part) < 0:
            part = children[int(part)][0]
        module = module.get_submodule(part)
        names.append(part)
    return ".".join(names)


def _seen_through(module: nn.Module) -> nn.Module:
    """The model behind a :class:`~captum_ifim.LogitsModel` (same layers and names)."""
    inner: Any = module.wrapped if isinstance(module, LogitsModel) else module
    return inner if isinstance(inner, nn.Module) else module


def _family_network(model: nn.Module) -> tuple[str, nn.Module, FamilyRule] | None:
    """The outermost submodule (or the model) of a known family, its name and rule."""
    classes = [(rule, rule.network_class()) for rule in FAMILY_RULES]
    known = [(rule, cls) for rule, cls in classes if cls is not None]
    if not known:
        return None
    for name, module in model.named_modules():
        module = _seen_through(module)
        for rule, cls in known:
            if isinstance(module, cls):
                return name, module, rule
    return None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


def _last_convolution_activation(model: nn.Module) -> str:
    """The last convolution, or the activation after it in its ``nn.Sequential``."""
    convolutions = [name for name, m in model.named_modules() if isinstance(m, CONVOLUTIONS)]
    if not convolutions:
        raise ValueError(
            f"expected a model with an nn.Conv2d or nn.Conv3d to pick a default target "
            f"layer, got a {type(model).__name__} without one; pass target_layer="
        )
    name = convolutions[-1]
    parent_name, _, _ = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    layer = model.get_submodule(name)
    if isinstance(parent, nn.Sequential):
        siblings = list(parent.named_children())
        position = next(i for i, (_, m) in enumerate(siblings) if m is layer)
        for child_name, following in siblings[position + 1 :]:
            if isinstance(following, ACTIVATIONS):
                return _join(parent_name, child_name)
            if not isinstance(following, NORMALIZATIONS):
                break
    return name


def _probe_finish_order(model: nn.Module, first: nn.Module) -> tuple[list[Any], Counter[str]]:
    """``[(name, output shape or None)]`` in the order modules finish, and their call
    counts, in one eval-mode forward pass on zeros; every hook removed afterwards."""
    dims = 3 if isinstance(first, nn.Conv3d) else 2
    weight: Any = first.weight
    channels: Any = first.in_channels
    probe = torch.zeros(
        1, int(channels), *([PROBE_SIDE[dims]] * dims), dtype=weight.dtype, device=weight.device
    )
    finished: list[Any] = []
    calls: Counter[str] = Counter()

    def record(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            calls[name] += 1
            finished.append((name, tuple(output.shape) if isinstance(output, Tensor) else None))

        return hook

    handles = []
    with training_flags_restored(model):
        try:
            for name, module in model.named_modules():
                handles.append(module.register_forward_hook(record(name)))
            model.eval()
            with torch.no_grad():
                model(probe)
        finally:
            for handle in handles:
                handle.remove()
    return finished, calls


def _general_rule(model: nn.Module) -> str:
    """The name chosen by the general rule (see the module docstring)."""
    fallback = _last_convolution_activation(model)
    convolutions = {name for name, m in model.named_modules() if isinstance(m, CONVOLUTIONS)}
    first = next(m for m in model.modules() if isinstance(m, CONVOLUTIONS))
    try:
        finished, calls = _probe_finish_order(model, first)
    except Exception:  # the probe's size or channels do not suit the model
        return fallback
    positions = [i for i, (name, shape) in enumerate(finished) if name in convolutions and shape]
    if not positions:
        return fallback
    last = positions[-1]
    shape = finished[last][1]
    chosen = [
        name
        for name, out in finished[last:]
        if name and out is not None and len(out) == len(shape) and out[2:] == shape[2:]
        and calls[name] == 1 and not isinstance(model.get_submodule(name), nn.Sequential)
    ]  # fmt: skip
    return chosen[-1] if chosen else fallback


def default_cam_target(model: nn.Module) -> CAMTarget:
    """The :class:`CAMTarget` a CAM uses when none is given (see the module docstring).

    Raises:
        ValueError: No family rule applies and the model has no ``nn.Conv2d``/``nn.Conv3d``.

    Example:
        >>> import torch
        >>> from captum_ifim._baselines._target_layers import default_cam_target
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> target = default_cam_target(model)
        >>> target.name, target.rule
        ('2', 'general rule')
    """
    found = _family_network(model)
    if found is not None:
        prefix, network, rule = found
        name = _join(prefix, _walk(network, rule.layer))
        transform = rule.reshape(network) if rule.reshape is not None else None
        return CAMTarget(model.get_submodule(name), name, transform, rule.then_relu, rule.family)
    name = _general_rule(model)
    return CAMTarget(model.get_submodule(name), name, rule="general rule")


def default_target_layer(model: nn.Module) -> nn.Module:
    """The layer a CAM uses when none is given: :func:`default_cam_target`'s layer.

    The family rules and the general rule are listed in ``docs/baselines.md`` (a table
    generated from :data:`FAMILY_RULES`); e.g. ``layer4[-1]`` for a torchvision ResNet,
    the ReLU after the last convolution for VGG16 (``features[29]``, 4 x 4 maps at
    64 x 64 inputs), ``features.norm5`` (then ReLU) for DenseNet, the last block's
    normalized tokens for a ViT.

    Raises:
        ValueError: No family rule applies and the model has no ``nn.Conv2d``/``nn.Conv3d``.

    Example:
        >>> import torch
        >>> from captum_ifim import default_target_layer
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> default_target_layer(model) is model[2]
        True
    """
    return default_cam_target(model).layer


def resolve_target_layer(model: nn.Module, target_layer: nn.Module | str) -> nn.Module:
    """The target layer as a submodule of ``model``; a name is looked up with ``get_submodule``.

    Raises:
        ValueError: The layer is not a submodule of ``model`` (or the name does not exist).
        TypeError: ``target_layer`` is neither an ``nn.Module`` nor a string.
    """
    if isinstance(target_layer, str):
        try:
            return model.get_submodule(target_layer)
        except AttributeError as error:
            raise ValueError(
                f"expected target_layer to name a submodule of the model, got {target_layer!r}"
            ) from error
    if not isinstance(target_layer, nn.Module):
        raise TypeError(
            f"expected target_layer to be an nn.Module or its name, got {type(target_layer)}"
        )
    if not any(module is target_layer for module in model.modules()):
        raise ValueError(
            f"expected target_layer to be a submodule of the model, got a "
            f"{type(target_layer).__name__} that is not part of it"
        )
    return target_layer


def _family_reshape(model: nn.Module, layer: nn.Module) -> ReshapeTransform | None:
    """The reshape of a family whose every layer has a token layout, if ``layer`` is in one."""
    classes = [(rule, rule.network_class()) for rule in FAMILY_RULES if rule.every_layer_reshaped]
    for network in map(_seen_through, model.modules()):
        for rule, cls in classes:
            if cls is not None and isinstance(network, cls) and rule.reshape is not None:
                if any(module is layer for module in network.modules()):
                    return rule.reshape(network)
    return None


def cam_target(
    model: nn.Module,
    target_layer: nn.Module | str | CAMTarget | None = None,
    reshape_transform: ReshapeTransform | None = None,
) -> CAMTarget:
    """The :class:`CAMTarget` for a CAM on ``model``, with the caller's overrides.

    Args:
        model: The classifier.
        target_layer: ``None`` for :func:`default_cam_target`; a submodule or its name
            (checked by :func:`resolve_target_layer`), which gets the reshape of its family
            when the family's every layer has a token layout (ViT, Swin) and none
            otherwise; or a :class:`CAMTarget` already chosen.
        reshape_transform: Replaces the automatic reshape when given.

    Raises:
        ValueError, TypeError: As :func:`resolve_target_layer` and
            :func:`default_cam_target`.
    """
    if isinstance(target_layer, CAMTarget):
        chosen = CAMTarget(
            resolve_target_layer(model, target_layer.layer),
            target_layer.name,
            target_layer.reshape_transform,
            target_layer.then_relu,
            target_layer.rule,
        )
    elif target_layer is None:
        chosen = default_cam_target(model)
    else:
        layer = resolve_target_layer(model, target_layer)
        name = next(n for n, m in model.named_modules() if m is layer)
        chosen = CAMTarget(layer, name, _family_reshape(model, layer))
    if reshape_transform is None:
        return chosen
    return CAMTarget(chosen.layer, chosen.name, reshape_transform, chosen.then_relu, chosen.rule)


def choose_target_layer(model: nn.Module, target_layer: nn.Module | str | None) -> nn.Module:
    """The given layer checked by :func:`resolve_target_layer`, or :func:`default_target_layer`."""
    return cam_target(model, target_layer).layer
