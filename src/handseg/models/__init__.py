"""Segmentation models and the registry: build_model(name, **cfg), list_models()."""

from handseg.models import (  # noqa: F401  (importing registers the models)
    attention_unet,
    deeplabv3plus,
    dense_attention,
    fcn,
    gcn,
    refinenet,
    unet,
    unet_scse,
)
from handseg.models.registry import build_model, list_models, model_entry, register_model

__all__ = ["build_model", "list_models", "model_entry", "register_model"]
