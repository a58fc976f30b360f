"""Segmentation models and the registry: build_model(name, **cfg)."""
