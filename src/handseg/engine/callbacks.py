"""Training hooks: the `Callback` protocol, the built-in callbacks and the CALLBACKS registry.

The loop (handseg.engine.train.Trainer.fit) calls every callback, in order (throughput, a config's callbacks,
then progress bar, run log, curves and checkpoint), at four points: before_train,
after_step (every optimisation step; `logs` holds the averaged training row on logging steps), after_validation
(with the validation metrics and whether they are the best so far) and after_train. A callback's state_dict is
saved in last.ckpt under "callbacks" and handed back to load_state_dict on resume, so a stateful callback
resumes exactly. Callbacks run on every rank; what writes files checks `trainer.fabric.is_global_zero`.

A config adds callbacks by registry name: `callbacks: [{name: my_callback, every: 10}]`.
"""

from __future__ import annotations

import time
from typing import Any

from tqdm import tqdm

from handseg.engine.loggers import TrainingLoggers
from handseg.engine.runlog import read_metrics_csv
from handseg.registry import CALLBACKS
from handseg.utils.io import atomic_write_json
from handseg.viz.plots import plot_curves


class Callback:
    """Do-nothing hooks; a callback overrides the ones it needs."""

    def before_train(self, trainer: Any) -> None:
        """Once the model, data and any resumed state are set up, before the first step of this session."""

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        """After each optimisation step; `logs` (loss, lr, ...; callbacks may add keys) on logging steps only."""

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        """After each validation, before the checkpoint of that step is written."""

    def after_train(self, trainer: Any) -> None:
        """When this session of the run ends (finished, stopped or time up)."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback needs to resume exactly (saved in last.ckpt)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict returned."""


def register_callback(name: str) -> Any:
    """Class decorator registering a Callback under the name a config's `callbacks:` section uses."""
    return CALLBACKS.register(name)


@register_callback("throughput")
class Throughput(Callback):
    """Adds images_per_s (training images a second since the last logging step, validation excluded) to `logs`."""

    def before_train(self, trainer: Any) -> None:
        self.tick, self.tick_step = time.perf_counter(), trainer.step

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        if logs is None:
            return
        elapsed = time.perf_counter() - self.tick
        logs["images_per_s"] = (
            (trainer.step - self.tick_step) * trainer.config["train"]["batch_size"] / max(elapsed, 1e-9)
        )
        self.tick, self.tick_step = time.perf_counter(), trainer.step

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        self.tick = time.perf_counter()  # validation time is not training throughput


@register_callback("progress_bar")
class ProgressBar(Callback):
    """A tqdm bar of the steps on rank 0 (when the run shows progress), with loss, images/s and lr."""

    def before_train(self, trainer: Any) -> None:
        shown = trainer.progress and trainer.fabric.is_global_zero
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, desc=trainer.run_dir.name, unit="step",
                        disable=not shown, dynamic_ncols=True)  # fmt: skip

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        self.bar.update(1)
        if logs is not None:
            speed = {"img_s": f"{logs['images_per_s']:.1f}"} if "images_per_s" in logs else {}
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", **speed, lr=f"{logs['lr']:.2g}")

    def after_train(self, trainer: Any) -> None:
        self.bar.close()


@register_callback("run_log")
class RunLogger(Callback):
    """metrics.csv and the configured loggers (handseg.engine.loggers: TensorBoard, W&B, MLflow) of every logging
    step and validation, and metrics.json (best and last validation), from rank 0."""

    def before_train(self, trainer: Any) -> None:
        zero = trainer.fabric.is_global_zero
        self.log = TrainingLoggers(trainer.config, trainer.run_dir, trainer.step) if zero else None

    def _epoch(self, trainer: Any) -> float:
        return round(trainer.step / trainer.steps_per_epoch, 3)

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        if logs is not None and self.log is not None:
            self.log.log(trainer.step, self._epoch(trainer), "train", {"wall_s": trainer.wall(), **logs})

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        if self.log is None:
            return

        scalars = {k: v for k, v in metrics.items() if not isinstance(v, list) and k != "step"}
        self.log.log(trainer.step, self._epoch(trainer), "val", {"wall_s": trainer.wall(), **scalars})
        atomic_write_json(trainer.run_dir / "metrics.json", {"best": trainer.best_metrics, "last": metrics})

    def after_train(self, trainer: Any) -> None:
        if self.log is not None:
            self.log.close()


@register_callback("curves")
class Curves(Callback):
    """curves.png (loss and validation metrics over steps) redrawn after each validation, from rank 0."""

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        if not trainer.fabric.is_global_zero:
            return
        try:
            rows = read_metrics_csv(trainer.run_dir / "metrics.csv")
            plot_curves(rows, trainer.run_dir / "curves.png", title=trainer.run_dir.name)
        except Exception as exc:  # a plot must never stop training
            trainer.fabric.print(f"note: curves not plotted ({type(exc).__name__}: {exc})")


@register_callback("checkpoint")
class Checkpoint(Callback):
    """last.ckpt every train.ckpt_every_steps steps, at each validation, when stopped and at the end; best.ckpt
    when a validation is the best so far (best selection: the task's headline metric, see Trainer.validate)."""

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        trainer.save(best=is_best)

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        if trainer.validating_now:
            return  # after_validation saves this step
        every = trainer.config["train"]["ckpt_every_steps"]
        if trainer.step % every == 0 or trainer.stopping or trainer.step == trainer.total_steps:
            trainer.save()


# The built-in callbacks every run has: those before a config's callbacks and those after them (which show,
# write and save what the earlier ones put in `logs`; the checkpoint last, so it saves every callback's state).
BUILTIN_FIRST = ("throughput",)
BUILTIN_LAST = ("progress_bar", "run_log", "curves", "checkpoint")


def build_callbacks(specs: list[dict[str, Any]] | None) -> dict[str, Callback]:
    """Every callback of a run, in the order they run, keyed by registry name (name_2, ... for repeats): the
    keys their saved states go under."""
    named = [(name, CALLBACKS.get(name)()) for name in BUILTIN_FIRST]
    for spec in specs or []:
        options = {k: v for k, v in spec.items() if k != "name"}
        named.append((spec["name"], CALLBACKS.get(spec["name"])(**options)))
    named += [(name, CALLBACKS.get(name)()) for name in BUILTIN_LAST]
    callbacks: dict[str, Callback] = {}
    for name, callback in named:
        key, k = name, 1
        while key in callbacks:
            k += 1
            key = f"{name}_{k}"
        callbacks[key] = callback
    return callbacks
