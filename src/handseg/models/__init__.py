"""Segmentation models and the registry: build_model(name, **cfg), list_models().

Every module of this package is imported on the first registry lookup (handseg.registry discovery), so a new
model file registers itself without being listed here.
"""

from handseg.models.registry import MODELS, build_model, list_models, model_entry, model_io, register_model

__all__ = ["MODELS", "build_model", "list_models", "model_entry", "model_io", "register_model"]
