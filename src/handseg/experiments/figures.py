"""The paper's pictures for a trained model: attention maps (Figure 7) and contour maps (Figure 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from handseg.data.format import IGNORE_INDEX
from handseg.losses.contour import contour_map
from handseg.utils.io import atomic_write_png
from handseg.viz.overlay import colorbar, colorize_labels, depth_gray, put_text, tile, to_display, with_legend

# The report shows figures at most about this wide; wider ones would be shrunk and their captions with them.
PAGE_WIDTH = 1100


def _caption(image: np.ndarray, text: str, width: int = 240) -> np.ndarray:
    """The panel at display size with its caption drawn there (neither scaled up nor down afterwards)."""
    panel = to_display(image, width)
    scale = 0.5 if panel.shape[1] >= 200 else 0.4
    return put_text(panel, text, org=(5, 16), scale=scale)


def heatmap(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """HxW floats -> RGB picture (inferno), scaled to [lo, hi] (the map's own range by default)."""
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    gray = (np.clip((values - lo) / max(hi - lo, 1e-8), 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[..., ::-1].copy()


def _upsample(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """N x 1 x h x w map (first of the batch) -> H x W numpy, bilinear."""
    return F.interpolate(maps[:1].float(), size=size, mode="bilinear", align_corners=False)[0, 0].cpu().numpy()


@torch.no_grad()
def attention_figure(model: torch.nn.Module, x: torch.Tensor, sample: dict[str, Any], path: str | Path) -> Path:
    """Grid of the fine (top) and coarse (bottom) attention of each of the 6 levels for one input (Figure 7).

    Every tile uses the same scale, 0 to 1 (the gates are sigmoids), shown by the colour bar, so a nearly constant
    gate looks constant instead of being stretched to full contrast; each caption gives the tile's own range.
    """
    _, maps = model(x[None], return_attention=True)
    height, width = x.shape[-2:]
    base = depth_gray(sample["depth"])
    columns = 1 + len(maps["fine"])
    panel_width = width * max(1, PAGE_WIDTH // (columns * width + 64))  # the whole row fits the page unshrunk
    rows = []
    for kind in ("fine", "coarse"):
        panels = [_caption(base, f"{kind} attention", panel_width)]
        for level, level_map in enumerate(maps[kind]):
            values = _upsample(level_map, (height, width))
            text = f"L{level} {values.min():.2f}-{values.max():.2f}"
            panels.append(_caption(heatmap(values, 0.0, 1.0), text, panel_width))
        row = tile(panels, columns=len(panels))
        rows.append(np.hstack([row, colorbar(row.shape[0], 0.0, 1.0)]))
    figure = tile(rows, columns=1)
    atomic_write_png(path, figure)
    return Path(path)


@torch.no_grad()
def contour_figure(
    models: dict[str, torch.nn.Module], x: torch.Tensor, sample: dict[str, Any], path: str | Path
) -> Path:
    """Blurred Sobel contour maps of the hand and object channels: truth, then each model's softmax (Figure 8)."""
    label = torch.as_tensor(sample["label"])
    onehot = F.one_hot(label.clamp(0, 2), 3).permute(2, 0, 1)[None].float()
    onehot[:, :, label == IGNORE_INDEX] = 0
    columns = [("truth", colorize_labels(label.numpy()), contour_map(onehot[:, 1:]))]
    for name, model in models.items():
        logits = model(x[None]).float()
        probs = logits.softmax(1)
        columns.append((name, colorize_labels(logits.argmax(1)[0].numpy()), contour_map(probs[:, 1:])))
    hi = max(float(c[2].max()) for c in columns)
    rows = []
    for name, labels_rgb, edges in columns:
        hand, obj = edges[0, 0].numpy(), edges[0, 1].numpy()
        row = tile(
            [
                _caption(labels_rgb, name),
                _caption(heatmap(hand, 0, hi), "hand contour"),
                _caption(heatmap(obj, 0, hi), "object contour"),
            ],
            columns=3,
        )
        rows.append(np.hstack([row, colorbar(row.shape[0], 0.0, hi)]))
    atomic_write_png(path, with_legend(tile(rows, columns=1), "labels"))
    return Path(path)
