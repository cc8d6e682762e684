"""A zoo of real architectures for the contract tests, small enough for a 2-core CPU.

Each entry builds a torchvision, timm, MONAI, Hugging Face ``transformers`` (from a small
config: its forward returns a ``ModelOutput``) or harness network with ``weights=None`` (no
download), 3 classes, the smallest variant, timm's own ``test_*`` variant, or a small
configuration of the family's own class (what the target-layer rules match on), and says
what a user should get: the default CAM layer, its map's channels (the features the
classifier pools), and whether DeepSHAP is exact on it or refused (naming the first module
without an exact rule). Zero-initialised heads (torchvision's ViT) are redrawn so that
gradients are not all zero, and BatchNorm statistics are drawn at random so that BatchNorm
is not the identity.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

NUM_CLASSES = 3


@dataclass(frozen=True)
class ZooModel:
    """One architecture of the zoo.

    Attributes:
        name: The test id.
        package: The package that must be installed (``torchvision``, ``timm``, ``monai``).
        build: Builds the model (eval mode, seeded).
        input_shape: One input without the batch dimension, (C, H, W) or (C, D, H, W).
        layer: The default CAM target layer's qualified name.
        channels: Channels of the CAM map after the reshape.
        deepshap_refuses: ``None`` when DeepSHAP is exact; else a pattern of what its
            error names first (a module type or an operation).
    """

    name: str
    package: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    layer: str
    channels: int
    deepshap_refuses: str | None = None


def _seeded(build: Callable[[], nn.Module], seed: int = 0) -> Callable[[], nn.Module]:
    @functools.cache
    def built() -> nn.Module:
        torch.manual_seed(seed)
        model = build()
        generator = torch.Generator().manual_seed(seed)
        for module in model.modules():
            norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
            if norm and module.running_var is not None:
                size = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
        return model.eval()

    return built


def _torchvision_vit() -> nn.Module:
    from torchvision.models import VisionTransformer

    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=NUM_CLASSES,
    )  # fmt: skip
    nn.init.normal_(model.heads.head.weight, std=0.2)  # torchvision initialises it to zero
    return model


def _torchvision_swin(v2: bool) -> nn.Module:
    from torchvision.models import swin_transformer as swin

    extra = (
        {"block": swin.SwinTransformerBlockV2, "downsample_layer": swin.PatchMergingV2}
        if v2
        else {}
    )
    return swin.SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=[2, 2],
        stochastic_depth_prob=0.0, num_classes=NUM_CLASSES, **extra,
    )  # fmt: skip


def _torchvision_convnext() -> nn.Module:
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    setting = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)]
    return ConvNeXt(setting, num_classes=NUM_CLASSES)


def _torchvision_resnext() -> nn.Module:
    from torchvision.models.resnet import Bottleneck, ResNet

    return ResNet(Bottleneck, [1, 1, 1, 1], num_classes=NUM_CLASSES, groups=4, width_per_group=8)


def _torchvision_densenet() -> nn.Module:
    """torchvision's ``DenseNet`` class with four short blocks (DenseNet121 has 6, 12, 24, 16
    layers of growth 32): the same layout, downsampling 32 times, a fortieth of the work."""
    from torchvision.models import DenseNet

    return DenseNet(8, (2, 2, 2, 2), 16, bn_size=2, num_classes=NUM_CLASSES)


def _torchvision_regnet_y() -> nn.Module:
    """torchvision's ``RegNet`` with a RegNet-Y (squeeze-and-excitation) design of depth 4."""
    from torchvision.models.regnet import BlockParams, RegNet

    params = BlockParams.from_init_params(
        depth=4, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25
    )
    return RegNet(params, num_classes=NUM_CLASSES)


def _torchvision_vgg() -> nn.Module:
    """VGG16 as the harness builds it (a torchvision ``VGG`` with a light head), with the
    in-place ReLUs torchvision gives it."""
    from comparisons.models._vgg import vgg16

    model = vgg16(3, NUM_CLASSES, (32, 32))
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = True
    return model


def _timm_vit(distilled: bool) -> nn.Module:
    from timm.models.deit import VisionTransformerDistilled
    from timm.models.vision_transformer import VisionTransformer

    build = VisionTransformerDistilled if distilled else VisionTransformer
    return build(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=NUM_CLASSES
    )


def _monai_densenet(spatial_dims: int) -> nn.Module:
    from monai.networks.nets import DenseNet

    return DenseNet(
        spatial_dims, 1, NUM_CLASSES, init_features=8, growth_rate=4, block_config=(2, 2)
    )


def _monai_senet() -> nn.Module:
    from monai.networks.nets import SENet
    from monai.networks.nets.senet import SEResNetBottleneck

    return SENet(
        2, 1, SEResNetBottleneck, [1, 1, 1, 1], groups=1, reduction=16, dropout_prob=None,
        inplanes=16, downsample_kernel_size=1, input_3x3=False, num_classes=NUM_CLASSES,
    )  # fmt: skip


def _tv(name: str, **options: object) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision.models as models

        return getattr(models, name)(weights=None, num_classes=NUM_CLASSES, **options)

    return build


def _timm(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES)

    return build


def _shallow_cnn_3d() -> nn.Module:
    from comparisons.models._shallow_cnn import ShallowCNN3d

    return ShallowCNN3d(1, NUM_CLASSES, (16, 16, 16))


def _resnet3d() -> nn.Module:
    from comparisons.models._resnet3d import ResNet3d18

    return ResNet3d18(1, NUM_CLASSES, (32, 32, 32), widths=(4, 8, 8, 16))


def _monai_resnet(spatial_dims: int) -> nn.Module:
    """MONAI's ``ResNet`` with its default stem: a 7^d convolution, the overlapping 3^d
    stride-2 max pool (rebuilt from ReLUs for DeepSHAP) and in-place ReLUs."""
    from monai.networks.nets import ResNet

    return ResNet(
        "basic", [1, 1, 1, 1], [4, 8, 8, 16], spatial_dims=spatial_dims, n_input_channels=1,
        num_classes=NUM_CLASSES,
    )  # fmt: skip


def _hf(family: str) -> nn.Module:
    """A Hugging Face ``transformers`` image classifier from a small config (random
    weights, nothing downloaded), 32 px RGB: its forward returns a ``ModelOutput``."""
    import transformers as hf

    tokens = {
        "image_size": 32, "patch_size": 8, "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 32, "num_labels": NUM_CLASSES,
    }  # fmt: skip
    if family == "vit":
        return hf.ViTForImageClassification(hf.ViTConfig(**tokens))
    if family == "deit":
        return hf.DeiTForImageClassification(hf.DeiTConfig(**tokens))
    if family == "deit-teacher":
        return hf.DeiTForImageClassificationWithTeacher(hf.DeiTConfig(**tokens))
    if family == "swin":
        return hf.SwinForImageClassification(
            hf.SwinConfig(
                image_size=32, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 2],
                window_size=4, num_labels=NUM_CLASSES,
            )
        )  # fmt: skip
    if family == "convnext":
        return hf.ConvNextForImageClassification(
            hf.ConvNextConfig(
                hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, num_labels=NUM_CLASSES
            )
        )
    return hf.ResNetForImageClassification(
        hf.ResNetConfig(
            embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
            num_labels=NUM_CLASSES,
        )
    )  # fmt: skip


RGB32, RGB64, GRAY64 = (3, 32, 32), (3, 64, 64), (1, 64, 64)
SE = "a product of two input-dependent tensors"
#: LayerNorm as a module (``LayerNorm``) or traced to its function (``layer_norm``).
LAYER_NORM = "(?i)layer_?norm"

ZOO: tuple[ZooModel, ...] = (
    ZooModel("tv-resnet18", "torchvision", _seeded(_tv("resnet18")), RGB64, "layer4.1", 512),
    ZooModel("tv-resnext", "torchvision", _seeded(_torchvision_resnext), RGB64, "layer4.0", 2048),
    ZooModel("tv-vgg16", "torchvision", _seeded(_torchvision_vgg), RGB32, "features.29", 512),
    ZooModel(
        "tv-densenet", "torchvision", _seeded(_torchvision_densenet), RGB64, "features.norm5", 32
    ),
    ZooModel(
        "tv-efficientnet_b0", "torchvision", _seeded(_tv("efficientnet_b0")), RGB64,
        "features.8", 1280, SE,
    ),
    ZooModel(
        "tv-mobilenet_v2", "torchvision", _seeded(_tv("mobilenet_v2", width_mult=0.35)), RGB64,
        "features.18", 1280,
    ),
    ZooModel(
        "tv-mobilenet_v3_small", "torchvision", _seeded(_tv("mobilenet_v3_small")), RGB64,
        "features.12", 576, SE,
    ),
    ZooModel(
        "tv-convnext", "torchvision", _seeded(_torchvision_convnext), RGB32, "features.3", 32,
        LAYER_NORM,
    ),
    ZooModel(
        "tv-regnet-y", "torchvision", _seeded(_torchvision_regnet_y), RGB32, "trunk_output", 32,
        SE,
    ),
    ZooModel(
        "tv-vit", "torchvision", _seeded(_torchvision_vit), RGB32,
        "encoder.layers.encoder_layer_1.ln_1", 32, LAYER_NORM,
    ),
    ZooModel(
        "tv-swin", "torchvision", _seeded(lambda: _torchvision_swin(False)), RGB32, "norm", 32,
        LAYER_NORM,
    ),
    ZooModel(
        "tv-swin_v2", "torchvision", _seeded(lambda: _torchvision_swin(True)), RGB32, "norm", 32,
        LAYER_NORM,
    ),
    ZooModel("timm-resnet", "timm", _seeded(_timm("test_resnet")), RGB64, "layer4.0", 96),
    ZooModel(
        "timm-convnext", "timm", _seeded(_timm("test_convnext")), RGB64, "stages.3", 64,
        LAYER_NORM,
    ),
    ZooModel(
        "timm-efficientnet", "timm", _seeded(_timm("test_efficientnet")), RGB64, "bn2", 256, SE
    ),
    ZooModel(
        "timm-vit", "timm", _seeded(lambda: _timm_vit(False)), RGB32, "blocks.1.norm1", 32,
        LAYER_NORM,
    ),
    ZooModel(
        "timm-deit-distilled", "timm", _seeded(lambda: _timm_vit(True)), RGB32,
        "blocks.1.norm1", 32, LAYER_NORM,
    ),
    ZooModel(
        "monai-densenet-2d", "monai", _seeded(lambda: _monai_densenet(2)), GRAY64,
        "class_layers.relu", 16,
    ),
    ZooModel(
        "monai-densenet-3d", "monai", _seeded(lambda: _monai_densenet(3)), (1, 16, 16, 16),
        "class_layers.relu", 16,
    ),
    ZooModel(
        "monai-resnet-3d", "monai", _seeded(lambda: _monai_resnet(3)), (1, 32, 32, 32),
        "layer4.0", 16,
    ),
    ZooModel("monai-seresnet-2d", "monai", _seeded(_monai_senet), GRAY64, "layer4.0", 2048, SE),
    ZooModel(
        "shallow-cnn-3d", "torch", _seeded(_shallow_cnn_3d), (1, 16, 16, 16), "features.relu3",
        32,
    ),
    ZooModel("resnet3d-18", "torch", _seeded(_resnet3d), (1, 32, 32, 32), "layer4.1", 16),
    ZooModel(
        "hf-vit", "transformers", _seeded(lambda: _hf("vit")), RGB32,
        "vit.layers.1.layernorm_before", 16, LAYER_NORM,
    ),
    ZooModel(
        "hf-deit", "transformers", _seeded(lambda: _hf("deit")), RGB32,
        "deit.layers.1.layernorm_before", 16, LAYER_NORM,
    ),
    ZooModel(
        "hf-deit-teacher", "transformers", _seeded(lambda: _hf("deit-teacher")), RGB32,
        "deit.layers.1.layernorm_before", 16, LAYER_NORM,
    ),
    ZooModel(
        "hf-swin", "transformers", _seeded(lambda: _hf("swin")), RGB32, "swin.layernorm", 16,
        LAYER_NORM,
    ),
    ZooModel(
        "hf-convnext", "transformers", _seeded(lambda: _hf("convnext")), RGB32,
        "convnext.encoder.stages.1", 16, LAYER_NORM,
    ),
    ZooModel(
        "hf-resnet", "transformers", _seeded(lambda: _hf("resnet")), RGB32,
        "resnet.encoder.stages.1", 16, "in-place",
    ),
)  # fmt: skip
