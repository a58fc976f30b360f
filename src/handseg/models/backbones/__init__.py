"""Encoders: torchvision-compatible ResNets."""

from handseg.models.backbones.resnet import ResNet, adapt_first_conv, build_backbone, load_pretrained

__all__ = ["ResNet", "adapt_first_conv", "build_backbone", "load_pretrained"]
