"""handseg: segment hands from the objects they hold."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Segmenter", "TTASpec", "__version__", "load_model"]


def __getattr__(name: str) -> Any:
    """Import the model entry points on first use, so `import handseg` (and the CLI) stays light."""
    if name in ("Segmenter", "load_model"):
        from handseg.zoo import segmenter

        return getattr(segmenter, name)
    if name == "TTASpec":
        from handseg.models.tta import TTASpec

        return TTASpec
    raise AttributeError(f"module 'handseg' has no attribute {name!r}")
