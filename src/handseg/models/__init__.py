"""Segmentation models and the registry: build_model(name, **cfg), list_models()."""

from handseg.models import deeplabv3plus, dense_attention  # noqa: F401  (register the models)
from handseg.models.registry import build_model, list_models, model_entry, register_model

__all__ = ["build_model", "list_models", "model_entry", "register_model"]
