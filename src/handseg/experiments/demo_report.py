"""The demo's HTML report: metrics, curves, best/worst frames, attention and contour maps, latency."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path
from typing import Any

from handseg.viz.report import Figure, Section, Table, write_report

TABLE2_COLUMNS = (
    ("pixel acc. %", "pixel_acc"),
    ("mean acc. %", "mean_acc"),
    ("mean IU %", "mean_iu"),
    ("f.w. IU %", "fw_iu"),
    ("mean IOU hand/object %", "miou_hand_object"),
)


def _pct(value: Any) -> float:
    return float("nan") if value is None else 100.0 * float(value)


def metrics_section(metrics: dict[str, dict[str, Any]]) -> Section:
    """Table 2 columns for each training phase (CE, then CE + contour) and per-class IU."""
    rows, iu_rows = [], []
    for phase, m in metrics.items():
        latency = m.get("latency_ms")
        rows.append([phase] + [_pct(m.get(key)) for _, key in TABLE2_COLUMNS] + [latency])
        iu = m.get("iu") or m.get("iu_per_class") or [None] * 3  # iu_per_class: older files
        iu_rows.append([phase] + [_pct(v) for v in iu])
    some = next(iter(metrics.values()), {})
    lat_head = f"latency ms ({some.get('latency_size', '?')}, batch 1, {some.get('latency_device', '?')})"
    return Section(
        "Metrics on the validation split",
        paragraphs=["FCN definitions (DESIGN section 4); the headline is the mean IoU of hand and object."],
        tables=[
            Table(["phase"] + [c for c, _ in TABLE2_COLUMNS] + [lat_head], rows, "DenseAttentionSeg", digits=2),
            Table(["phase", "IU background %", "IU hand %", "IU object %"], iu_rows, "IU per class", digits=2),
        ],
    )


def zoo_section(zoo: dict[str, Any]) -> Section:
    """The shipped model on frames it never saw: scores and pictures (truth and prediction over depth)."""
    card = zoo.get("card") or {}
    rows = []
    for name in ("synthetic", "real"):
        if name in zoo:
            r = zoo[name]
            rows.append([name, r["frames"], r["hand_iu"], r["object_iu"], r["miou_hand_object"], r["frames_per_s"]])
            if r.get("forearm_not_scored"):
                f = r["forearm_not_scored"]
                rows.append([f"{name}, forearm not scored", r["frames"], f["hand_iu"], f["object_iu"],
                             f["miou_hand_object"], None])  # fmt: skip
    trained = card.get("training", {}).get("step") if isinstance(card.get("training"), dict) else None
    return Section(
        f"A shipped model at work: {zoo['model']}",
        paragraphs=[
            f"Before any training, the zoo model {zoo['model']} (loaded by name, weights checked against their "
            "sha256) segments frames it has never seen: fresh synthetic frames of every scene family from a seed "
            "no shipped model trained on, and, when the demo is given real depth (`--real`), every frame of that "
            "dataset. Labels are predicted at each frame's own size (the model runs at its training size, its "
            "labels are resized back) and scored against the truth (ignore pixels left out).",
            "Mean IOU is the mean of the hand and object IU over all frames of a set. handseg labels a forearm "
            "'hand'; real datasets whose hand masks stop at the wrist (DexYCB) do not score it, so the synthetic "
            "frames are also scored that way ('forearm not scored'): that row is the one to hold beside a real "
            "figure. Its model card "
            "(`handseg models --pretrained`) has the held-out figures"
            + (f"; the weights are step {trained} of its last training phase." if trained else "."),
        ],
        tables=[
            Table(
                ["frames", "count", "hand IU %", "object IU %", "mean IOU %", "frames/s"],
                rows,
                "Scores on unseen frames",
                digits=1,
            )
        ],
        figures=[
            Figure(f"zoo/{zoo[n]['picture']}", f"{n} frames: truth (left) and prediction (right) over depth", wide=True)
            for n in ("synthetic", "real")
            if n in zoo
        ],
    )


def amodal_section(amodal: dict[str, Any]) -> Section:
    """The shipped amodal model on fresh hand crops: part mIoU on all, visible and hidden pixels, and pictures."""
    row = [amodal["frames"], _pct(amodal["miou"]), _pct(amodal["miou_left"]), _pct(amodal["miou_right"]),
           _pct(amodal["visible_miou"]), _pct(amodal["hidden_miou"]), amodal["frames_per_s"]]  # fmt: skip
    return Section(
        f"Amodal hand parts: {amodal['model']}",
        paragraphs=[
            f"The zoo model {amodal['model']} predicts, for each hand, 16 parts (palm, thumb 1-3 ... little 3) "
            "including the parts it cannot see: hidden behind the other hand or the object. It segments fresh "
            "synthetic crops around both hands (a seed no shipped model trained on). Part mIoU: per image and "
            "hand, the IoU of the parts with at least 20 true pixels, averaged; visible / hidden: the same on the "
            "pixels where the hand's part is seen / hidden. In the pictures, hidden parts are hatched.",
        ],
        tables=[
            Table(
                ["frames", "part mIoU %", "left %", "right %", "visible %", "hidden %", "frames/s"],
                [row],
                "Scores on unseen hand crops",
                digits=1,
            )
        ],
        figures=[
            Figure(
                f"zoo/{amodal['picture']}",
                "per hand: truth (left) and prediction (right), hidden parts hatched",
                wide=True,
            )
        ],
    )


def _copy(source: Path, out: Path, name: str) -> str | None:
    """Copy a picture into out/figures and return its path relative to the report (None if absent)."""
    if not source.is_file():
        return None
    target = out / "figures" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return f"figures/{name}"


def write_demo_report(
    out: Path,
    *,
    settings: Any,
    metrics: dict[str, dict[str, Any]],
    export: dict[str, Any],
    latency: dict[str, Any],
    timings: dict[str, float],
    phase_dirs: list[Path],
    zoo: dict[str, Any] | None = None,
    amodal: dict[str, Any] | None = None,
) -> Path:
    """Assemble report.html from what the demo wrote into `out`."""
    w, h = settings.size
    summary = Section(
        "What ran",
        paragraphs=[
            f"A synthetic dataset of {settings.frames} frames at {w}x{h} (handseg synth), DenseAttentionSeg with a "
            f"ResNet-18 encoder trained {settings.steps} steps with class-weighted cross-entropy (1/5/5), then "
            f"{settings.finetune_steps} steps of contour fine-tuning (alpha 1, beta 0.005), evaluated on the "
            "validation split, exported to ONNX.",
            f"Machine: {platform.processor() or platform.machine()}, {platform.platform()}. "
            + ", ".join(f"{k.removesuffix('_s')} {v / 60:.1f} min" for k, v in timings.items()),
        ],
        notes=[
            "This is the CPU preset: small images and a short budget, so the figures show the pipeline working, "
            "not the paper's accuracy."
        ],
    )
    curves = [
        Figure(path, f"training curves, {d.name}")
        for d in phase_dirs
        if (path := _copy(d / "curves.png", out, f"curves_{d.name}.png"))
    ]
    confusion = _copy(out / "eval" / phase_dirs[-1].name.split("_", 1)[1] / "confusion.png", out, "confusion.png")
    frames = Section(
        "Best and worst validation frames (after contour fine-tuning)",
        paragraphs=[
            "Each picture: the depth the model sees (greyscale, near is bright, black is missing), the truth and "
            "the prediction over it (legend below each picture)."
        ],
        figures=[
            Figure(f"figures/{k}_{i}.png", f"{k} #{i + 1}", wide=True)
            for k in ("best", "worst")
            for i in range(3)
            if (out / "figures" / f"{k}_{i}.png").is_file()
        ],
    )
    attention = Section(
        "Attention maps (the paper's Figure 7)",
        paragraphs=[
            "Fine attention (product of the finer levels) and coarse attention (product of the coarser "
            "levels) of each of the 6 levels, as the channel mean of each gate, for one validation frame."
        ],
        figures=[Figure("figures/attention.png", "fine (top) and coarse (bottom) attention per level", wide=True)],
    )
    contour = Section(
        "Contour maps (the paper's Figure 8)",
        paragraphs=[
            "Gaussian-blurred Sobel edges of the hand and object channels: of the truth, of the model "
            "after CE training and after contour fine-tuning (same colour scale)."
        ],
        figures=[Figure("figures/contour.png", "contour maps: truth, CE only, CE + contour", wide=True)],
    )
    lat_rows = [
        [name.removesuffix("_ms").replace("_", " "), value] for name, value in latency.items() if name.endswith("_ms")
    ]
    speed = Section(
        "Latency and export",
        paragraphs=[
            f"Batch 1 at {latency['size']}, {latency['threads']} threads, median of {latency['repeats']} runs, "
            "measured side by side in this run.",
            "ONNX check: " + ", ".join(f"{k} {v}" for k, v in export.items() if not isinstance(v, dict | list)),
        ],
        tables=[Table(["backend", "latency ms"], lat_rows, digits=1)],
    )
    sections = [zoo_section(zoo)] if zoo else []
    if amodal:
        sections.append(amodal_section(amodal))
    sections += [
        summary,
        metrics_section(metrics),
        Section(
            "Training curves and confusion matrix",
            figures=curves + ([Figure(confusion, "confusion matrix")] if confusion else []),
        ),
        frames,
        attention,
        contour,
        speed,
    ]
    return write_report(
        out / "report.html",
        "handseg demo: DenseAttentionSeg on synthetic depth",
        sections,
        meta="written by `handseg demo`",
    )
