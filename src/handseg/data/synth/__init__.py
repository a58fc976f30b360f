"""The synthetic hand-object generator: articulated hands holding objects, seen by an SR300-like depth camera."""

from handseg.data.synth.generate import camera, generate_dataset, render_frame
from handseg.data.synth.objects import OBJECT_TYPES

__all__ = ["OBJECT_TYPES", "camera", "generate_dataset", "render_frame"]
