"""The paper's pictures for a trained model: attention maps (Figure 7) and contour maps (Figure 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from handseg.utils.io import atomic_write_png
from handseg.viz.overlay import colorize_depth, colorize_labels, put_text, tile


def heatmap(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """HxW floats -> RGB picture (inferno), scaled to [lo, hi] (the map's own range by default)."""
    import cv2

    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    gray = (np.clip((values - lo) / max(hi - lo, 1e-8), 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[..., ::-1].copy()


def _upsample(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """N x 1 x h x w map (first of the batch) -> H x W numpy, bilinear."""
    return F.interpolate(maps[:1].float(), size=size, mode="bilinear", align_corners=False)[0, 0].cpu().numpy()


@torch.no_grad()
def attention_figure(model: torch.nn.Module, x: torch.Tensor, sample: dict[str, Any], path: str | Path) -> Path:
    """Grid of the fine (top) and coarse (bottom) attention of each of the 6 levels for one input (Figure 7)."""
    _, maps = model(x[None], return_attention=True)
    height, width = x.shape[-2:]
    base = colorize_depth(sample["depth"])
    rows = []
    for kind in ("fine", "coarse"):
        panels = [put_text(base.copy(), f"{kind} attention")]
        for level, level_map in enumerate(maps[kind]):
            values = _upsample(level_map, (height, width))
            panel = heatmap(values)
            rows_label = f"L{level} {values.min():.2f}-{values.max():.2f}"
            panels.append(put_text(panel, rows_label))
        rows.append(tile(panels, columns=len(panels)))
    figure = tile(rows, columns=1)
    atomic_write_png(path, figure)
    return Path(path)


@torch.no_grad()
def contour_figure(
    models: dict[str, torch.nn.Module], x: torch.Tensor, sample: dict[str, Any], path: str | Path
) -> Path:
    """Blurred Sobel contour maps of the hand and object channels: truth, then each model's softmax (Figure 8)."""
    from handseg.losses.contour import contour_map

    label = torch.as_tensor(sample["label"])
    onehot = F.one_hot(label.clamp(0, 2), 3).permute(2, 0, 1)[None].float()
    onehot[:, :, label == 255] = 0
    columns = [("truth", colorize_labels(label.numpy()), contour_map(onehot[:, 1:]))]
    for name, model in models.items():
        logits = model(x[None]).float()
        probs = logits.softmax(1)
        columns.append((name, colorize_labels(logits.argmax(1)[0].numpy()), contour_map(probs[:, 1:])))
    hi = max(float(c[2].max()) for c in columns)
    rows = []
    for name, labels_rgb, edges in columns:
        hand, obj = edges[0, 0].numpy(), edges[0, 1].numpy()
        rows.append(
            tile(
                [
                    put_text(labels_rgb.copy(), name),
                    put_text(heatmap(hand, 0, hi), "hand contour"),
                    put_text(heatmap(obj, 0, hi), "object contour"),
                ],
                columns=3,
            )
        )
    atomic_write_png(path, tile(rows, columns=1))
    return Path(path)
