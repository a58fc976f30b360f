"""The training loop (Lightning Fabric): exact resume from last.ckpt, best.ckpt by validation, logs and curves.

Exact resume: each epoch's order is a permutation fixed by (seed, epoch) and each sample's augmentation by
(seed, epoch, index), so nothing depends on worker processes or on how often the run was interrupted. A
checkpoint holds the model, optimizer, scheduler, step and every rank's Python/NumPy/torch RNG states; on
resume the epoch of the step is replayed from the batch after the last one trained on.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from handseg.config import deep_merge, dump_config, validate
from handseg.data.forearm import IgnoreForearm
from handseg.data.readers.base import open_split
from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader
from handseg.engine.callbacks import build_callbacks
from handseg.engine.checkpoint import read_checkpoint, rng_state, save_checkpoint, set_rng_state
from handseg.engine.evaluate import headline, run_eval
from handseg.engine.runtime import (
    broadcast_buffers,
    build_model_from_config,
    check_run_dir,
    ensure_dataset,
    gather_objects,
    link_or_copy,
    make_fabric,
)
from handseg.engine.schedule import build_optimizer, build_scheduler
from handseg.errors import ConfigError, DataError
from handseg.losses import build_loss
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_text


def train(
    config: dict[str, Any],
    run_dir: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    stop_after_steps: int | None = None,
    fabric: Any = None,
    stop_after_s: float | None = None,
) -> dict[str, Any]:
    """Train (or resume) the config into `run_dir`; return {"best": metrics, "last": metrics, "step", ...}.

    `stop_after_steps` ends the run after that many steps with last.ckpt written, as a kill would (tests);
    `stop_after_s` ends it, validated and saved, once its training wall time (summed over resumes) reaches that.
    A config with `phases` trains each phase into run_dir/phase<k>_<name>, phase k+1 from phase k's best.ckpt.
    """
    config = validate(config)
    run_dir = Path(run_dir)
    if config["phases"]:
        if stop_after_s is not None:
            raise ConfigError("a time budget (stop_after_s) applies to single-phase configs only")
        return train_phases(config, run_dir, force=force, progress=progress, stop_after_steps=stop_after_steps,
                            fabric=fabric)  # fmt: skip
    fabric = fabric or make_fabric(config["runtime"])
    resume_from = check_run_dir(run_dir, config, force, fabric)
    fabric.barrier()  # every rank has looked at the folder before rank 0 writes into it
    if fabric.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", dump_config(config))
    fabric.barrier()
    return Trainer(config, run_dir, fabric, progress).fit(resume_from, stop_after_steps, stop_after_s=stop_after_s)


def train_phases(
    config: dict[str, Any], run_dir: Path, *, force: bool, progress: bool, stop_after_steps: int | None, fabric: Any
) -> dict[str, Any]:
    """Train the phases one after another; run_dir/best.ckpt and last.ckpt link to the last phase's."""
    fabric = fabric or make_fabric(config["runtime"])
    base = {k: v for k, v in config.items() if k != "phases"}
    init_from = config.get("init_from")
    result: dict[str, Any] = {}
    for k, phase in enumerate(config["phases"]):
        name = str(phase.get("name", k + 1))
        sub = validate(deep_merge(base, {key: v for key, v in phase.items() if key != "name"}))
        sub["init_from"] = init_from
        sub_dir = run_dir / f"phase{k + 1}_{name}"
        result = train(sub, sub_dir, force=force and k == 0, progress=progress, stop_after_steps=stop_after_steps,
                       fabric=fabric)  # fmt: skip
        force = False
        if result.get("stopped"):
            return result
        best = sub_dir / "best.ckpt"
        init_from = str(best if best.is_file() else sub_dir / "last.ckpt")  # last.ckpt: trained without validation
        if stop_after_steps is not None:
            stop_after_steps = max(1, stop_after_steps - result["step"])
    if fabric.is_global_zero:
        atomic_write_text(run_dir / "config.yaml", dump_config(config))
        for name in ("best.ckpt", "last.ckpt", "metrics.json", "curves.png"):
            if (sub_dir / name).exists():
                link_or_copy(sub_dir / name, run_dir / name)
    fabric.barrier()
    return {**result, "run_dir": str(run_dir)}


class Trainer:
    """One training run of one config on one Fabric."""

    def __init__(self, config: dict[str, Any], run_dir: Path, fabric: Any, progress: bool = True) -> None:
        self.config, self.run_dir, self.fabric, self.progress = config, run_dir, fabric, progress
        self.task = config["task"]
        self.key = headline(self.task)
        train_cfg = config["train"]
        world = fabric.world_size
        if train_cfg["batch_size"] % world:
            raise ConfigError(f"train.batch_size {train_cfg['batch_size']} is not divisible by {world} ranks")
        self.batch = train_cfg["batch_size"] // world
        self.channels_last = bool(train_cfg["channels_last"])
        self.step = 0
        self.best_score = -math.inf
        self.best_metrics: dict[str, Any] = {}
        self.last_metrics: dict[str, Any] = {}
        self.wall_offset = 0.0  # wall seconds of earlier sessions of this run (from last.ckpt)
        self.wall_start: float | None = None
        self.validating_now = False  # this step validates (and the checkpoint callback saves after it)
        self.stopping = False  # this step ends the session early (stop_after_steps / stop_after_s)
        self.callbacks = build_callbacks(config["callbacks"])

    # ----- setup -------------------------------------------------------------------------------------------
    def _setup_data(self) -> None:
        cfg, fabric = self.config, self.fabric
        data = cfg["data"]
        root = ensure_dataset(cfg, fabric)
        size = tuple(data["size"])
        crop = {"crop": data["crop"], "crop_margin": data["crop_margin"]}
        self.skip = unused_kinds(self.task, data["modality"], data["crop"], data["forearm"])
        train_set = SegmentationDataset(
            self._forearm(open_split(root, data["train_split"], format=data["format"], skip=self.skip)),
            self.task,
            data["modality"],
            size,
            augment=cfg["augment"],
            **crop,
        )
        pin = fabric.device.type == "cuda"  # pinned memory only helps copies to a GPU
        rank, world = fabric.global_rank, fabric.world_size
        self.train_sampler = EpochSampler(
            len(train_set), self.batch, seed=cfg["seed"], shuffle=True, rank=rank, world=world
        )
        self.steps_per_epoch = self.train_sampler.batches_per_epoch()
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{root}: split {data['train_split']!r} has {len(train_set)} frames, fewer than one batch of "
                f"{cfg['train']['batch_size']}"
            )
        self.train_loader = make_loader(train_set, self.train_sampler, self.batch, data["workers"], pin)
        t = cfg["train"]
        self.total_steps = t["max_steps"] or t["epochs"] * self.steps_per_epoch
        self.val_every = t["val_every_steps"] if t["val_every_steps"] is not None else (
            t["val_every_epochs"] * self.steps_per_epoch
        )  # fmt: skip
        if not self.val_every:
            self.val_loader = None
            return
        val_set = SegmentationDataset(self._val_reader(root), self.task, data["modality"], size, **crop)
        if data["val_max_frames"] is not None and data["val_max_frames"] < len(val_set):
            # a fixed prefix: every validation of every run scores the same frames, only fewer of them
            val_set = torch.utils.data.Subset(val_set, range(data["val_max_frames"]))
        eval_batch = max(1, cfg["eval"]["batch_size"])
        val_sampler = EpochSampler(len(val_set), eval_batch, shuffle=False, rank=rank, world=world)
        self.val_loader = make_loader(val_set, val_sampler, eval_batch, min(data["workers"], 1), pin)

    def _val_reader(self, root: Path) -> Any:
        """The validation split's frames; a missing or empty split is an error naming it."""
        split = self.config["data"]["val_split"]
        hint = "set data.val_split, or train without validation: train.val_every_steps: 0 (--no-val)"
        try:
            reader = open_split(root, split, format=self.config["data"]["format"], skip=self.skip)
        except DataError as exc:
            raise DataError(exc.path, f"{exc.problem}; {hint}") from None
        if len(reader) == 0:
            raise DataError(root / "splits" / f"{split}.txt", f"validation split {split!r} is empty; {hint}")
        return self._forearm(reader)

    def _forearm(self, reader: Any) -> Any:
        """The reader, with its forearm pixels labelled ignore when data.forearm is ignore."""
        return IgnoreForearm(reader) if self.config["data"]["forearm"] == "ignore" else reader

    def _setup_model(self, resume: dict[str, Any] | None) -> None:
        cfg, fabric = self.config, self.fabric
        fabric.seed_everything(cfg["seed"], verbose=False)
        init = dict(cfg, init_from=None) if resume else cfg  # resumed weights replace init_from's anyway
        self.raw_model = build_model_from_config(init)
        if resume:
            self.raw_model.load_state_dict(resume["model"])
        if self.channels_last:
            self.raw_model = self.raw_model.to(memory_format=torch.channels_last)
        module = torch.compile(self.raw_model) if cfg["runtime"]["compile"] else self.raw_model
        optimizer = build_optimizer(self.raw_model.parameters(), cfg["optim"])
        self.eval_module = module  # validation bypasses DDP: no collectives per forward, uneven shards are fine
        self.model, self.optimizer = fabric.setup(module, optimizer)
        self.scheduler = build_scheduler(self.optimizer, cfg["schedule"], self.total_steps)
        loss_cfg = dict(cfg["loss"])
        self.loss_fn = build_loss(loss_cfg.pop("name"), **loss_cfg).to(fabric.device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=fabric.device)
        self.loss_count = 0
        if resume:
            self.optimizer.load_state_dict(resume["optimizer"])
            self.scheduler.load_state_dict(resume["scheduler"])
            self.step = int(resume["step"])
            self.best_score = float(resume.get("best_metric", -math.inf))
            self.best_metrics = resume.get("best_metrics", {})
            self.last_metrics = resume.get("metrics", {})
            self.wall_offset = float(resume.get("wall_s", 0.0))
            window_sum, self.loss_count = resume.get("loss_window", (0.0, 0))
            self.loss_sum.fill_(window_sum)
            saved = resume.get("callbacks") or {}
            for key, callback in self.callbacks.items():
                if key in saved:
                    callback.load_state_dict(saved[key])
            states = resume.get("rng") or []
            if len(states) == fabric.world_size:
                set_rng_state(states[fabric.global_rank])
            else:
                fabric.print(
                    f"note: checkpoint has RNG states of {len(states)} ranks, this run has {fabric.world_size}"
                )
                torch.manual_seed(cfg["seed"] + self.step + fabric.global_rank)
        else:
            torch.manual_seed(cfg["seed"] + fabric.global_rank)  # per-rank dropout; weights already identical

    # ----- checkpoints --------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "model": self.raw_model.state_dict(),
            "config": self.config,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.step // self.steps_per_epoch,
            "best_metric": self.best_score,
            "best_metrics": self.best_metrics,
            "metrics": self.last_metrics,
            "world_size": self.fabric.world_size,
            "loss_window": (float(self.loss_sum), self.loss_count),  # the partly averaged training loss
            "wall_s": self.wall(),
            "callbacks": {key: callback.state_dict() for key, callback in self.callbacks.items()},
        }

    def save(self, best: bool = False) -> None:
        """Write last.ckpt (and best.ckpt) atomically from rank 0, with every rank's RNG state."""
        states = gather_objects(self.fabric, rng_state())
        if self.fabric.is_global_zero:
            state = self._state()
            state["rng"] = states
            save_checkpoint(self.run_dir / "last.ckpt", state)
            if best:
                link_or_copy(self.run_dir / "last.ckpt", self.run_dir / "best.ckpt")
        self.fabric.barrier()

    # ----- loop ---------------------------------------------------------------------------------------------
    def wall(self) -> float:
        """Wall-clock seconds of training so far, summed over the sessions of this run (setup not counted)."""
        if self.wall_start is None:
            return self.wall_offset
        return self.wall_offset + time.perf_counter() - self.wall_start

    def _say(self, text: str) -> None:
        """Print a line on rank 0 without breaking the progress bar."""
        if self.fabric.is_global_zero:
            tqdm.write(text)

    def validate(self) -> tuple[dict[str, Any], bool]:
        """Evaluate on the val split; return the metrics and whether they are the best so far."""
        broadcast_buffers(self.fabric, self.raw_model)
        with self.fabric.autocast():
            result = run_eval(
                self.eval_module, self.val_loader, self.task, device=self.fabric.device, fabric=self.fabric,
                loss_fn=self.loss_fn, channels_last=self.channels_last,
            )  # fmt: skip
        metrics = {k: v for k, v in result["metrics"].items() if isinstance(v, int | float | list)}
        metrics.update(get_task(self.task).named_metrics(metrics))
        metrics["step"] = self.step
        self.last_metrics = metrics
        score = metrics.get(self.key, float("nan"))
        is_best = not math.isnan(score) and score > self.best_score
        if is_best:
            self.best_score, self.best_metrics = score, metrics
        best_step = self.best_metrics.get("step")
        self._say(
            f"step {self.step}/{self.total_steps}: val {self.key} {score:.4f}, best {self.best_score:.4f} "
            f"at step {best_step} ({self.wall() / 60:.1f} min)"
        )
        return metrics, is_best

    def _call(self, hook: str, *args: Any) -> None:
        """Run one hook of every callback, in order."""
        for callback in self.callbacks.values():
            getattr(callback, hook)(self, *args)

    def _train_logs(self) -> dict[str, Any]:
        """The training row of a logging step: the loss averaged since the last one (over ranks) and the lr."""
        mean_loss = float(self.fabric.all_reduce(self.loss_sum / self.loss_count, reduce_op="mean"))
        self.loss_sum.zero_()
        self.loss_count = 0
        return {"loss": mean_loss, "lr": self.optimizer.param_groups[0]["lr"]}

    def _time_up(self, limit: float | None) -> bool:
        """Whether the wall-time budget is spent (rank 0's clock decides for every rank)."""
        if limit is None:
            return False
        up = self.wall() >= limit
        return bool(self.fabric.broadcast(up, src=0)) if self.fabric.world_size > 1 else up

    def fit(
        self, resume_from: Path | None, stop_after_steps: int | None = None, *, stop_after_s: float | None = None
    ) -> dict[str, Any]:
        """Run the loop to the step budget (or `stop_after_steps` / `stop_after_s`); return best and last metrics."""
        cfg, fabric = self.config, self.fabric
        self._setup_data()
        resume = read_checkpoint(resume_from) if resume_from else None
        self._setup_model(resume)
        t = cfg["train"]
        total, val_every = self.total_steps, self.val_every
        if self.step >= total:
            return self._result(total, stopped=False)
        if stop_after_s is not None and self.wall_offset >= stop_after_s:
            return self._result(total, stopped=True)  # the time budget was spent in earlier sessions
        if resume:
            fabric.print(f"resuming {self.run_dir} at step {self.step}/{total}")
        self.model.train()
        self.wall_start = time.perf_counter()
        self._call("before_train")
        stopped = False
        while self.step < total and not stopped:
            epoch = self.step // self.steps_per_epoch
            self.train_sampler.set_epoch(epoch, self.step % self.steps_per_epoch)
            for batch in self.train_loader:
                x = batch["input"].to(fabric.device, non_blocking=True)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                target = batch["target"].to(fabric.device, non_blocking=True)
                loss = self.loss_fn(self.model(x).float(), target)
                self.optimizer.zero_grad(set_to_none=True)
                fabric.backward(loss)
                if t["grad_clip"]:
                    fabric.clip_gradients(self.model, self.optimizer, max_norm=float(t["grad_clip"]))
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                self.loss_sum += loss.detach().double()
                self.loss_count += 1
                logs = self._train_logs() if self.step % t["log_every_steps"] == 0 or self.step == total else None
                stop_now = stop_after_steps is not None and self.step >= stop_after_steps
                time_up = self._time_up(stop_after_s)
                self.validating_now = bool(val_every and (self.step % val_every == 0 or self.step == total or time_up))
                self.stopping = stop_now or time_up
                self._call("after_step", logs)  # logging, progress; the checkpoint callback saves unless validating
                if self.validating_now:
                    self._call("after_validation", *self.validate())  # run log, curves, then last/best.ckpt
                if self.stopping and self.step < total:
                    stopped = True
                if stopped or self.step >= total:
                    break
        self._call("after_train")
        return self._result(total, stopped)

    def _result(self, total: int, stopped: bool) -> dict[str, Any]:
        return {
            "best": self.best_metrics,
            "last": self.last_metrics,
            "step": self.step,
            "total_steps": total,
            "stopped": stopped,
            "run_dir": str(self.run_dir),
            "key": self.key,
            "wall_s": self.wall(),
            "epochs": self.step / self.steps_per_epoch,
        }


def unused_kinds(task: str, modality: str, crop: str | None, forearm: str = "hand") -> tuple[str, ...]:
    """The frame files a run never reads: colour for depth input, part maps unless amodal, cropped to hands or
    told the forearm from the hand by them."""
    skip = []
    if modality == "depth":
        skip.append("color")
    if not get_task(task).part_maps and crop is None and forearm == "hand":
        skip.append("parts")
    return tuple(skip)


def format_summary(result: dict[str, Any]) -> str:
    """The end-of-training summary: budget, wall time, best step and its scores, the last validation."""
    key = result.get("key", "miou_hand_object")
    head = (
        f"run {result['run_dir']}: {'stopped at' if result.get('stopped') else 'finished'} step "
        f"{result['step']}/{result['total_steps']} ({result.get('epochs', 0):.1f} epochs) in "
        f"{result.get('wall_s', 0.0) / 60:.1f} min of training"
    )
    best, last = result.get("best") or {}, result.get("last") or {}
    if not best:
        return head + "\n  no validation (train.val_every_steps: 0): no best.ckpt; last.ckpt holds the weights"
    shown = ("miou_hand_object", "iu_hand", "iu_object", "pixel_acc", "mean_iu", "miou", "loss")
    lines = [head, f"  best {key} {best.get(key, float('nan')):.4f} at step {best.get('step')} (best.ckpt)"]
    lines += [f"    {name:<17} {best[name]:.4f}" for name in shown if isinstance(best.get(name), float)]
    if last and last.get("step") != best.get("step"):
        lines.append(f"  last {key} {last.get(key, float('nan')):.4f} at step {last.get('step')} (last.ckpt)")
    return "\n".join(lines)
