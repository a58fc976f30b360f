"""Training loggers: metrics.csv plus Lightning Fabric loggers (TensorBoard; W&B and MLflow when installed).

Config section `log` (not part of the results: a run may resume with other loggers):

    log:
      loggers: [csv, tensorboard, wandb, mlflow]   # default [csv, tensorboard]
      wandb: {project: handseg, mode: offline}     # options of lightning's WandbLogger (and wandb.init)
      mlflow: {tracking_uri: "file:./mlruns"}      # options of lightning's MLFlowLogger

`csv` is the run's own metrics.csv (handseg.engine.runlog.RunLog): reports, plots and resume read it, so it is
always written. The others are Lightning loggers (`lightning.fabric.loggers.Logger` subclasses) that get every
finite number of each row as `<kind>/<key>` at its step, and the resolved config as hyperparameters. A resumed
run goes on logging into the same W&B / MLflow run: their ids are kept in RUN/loggers.json.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from pathlib import Path
from typing import Any

from handseg.config import check_log_config
from handseg.engine.runlog import RunLog, flatten
from handseg.errors import ConfigError
from handseg.utils.io import atomic_write_json

DEFAULT_LOGGERS = ["csv", "tensorboard"]
PACKAGES = {"wandb": "wandb", "mlflow": "mlflow"}  # logger -> the package it needs (pip name = import name)
STATE_FILE = "loggers.json"


def _require(name: str) -> None:
    """Import the package a logger needs, or a ConfigError naming it and how to install it."""
    package = PACKAGES[name]
    try:
        importlib.import_module(package)
    except ImportError as exc:
        raise ConfigError(
            f"log.loggers: {name} needs the {package} package ({exc}); pip install {package}, "
            f"or leave {name} out of log.loggers"
        ) from None


def _build(name: str, options: dict[str, Any], run_dir: Path, start_step: int, state: dict[str, Any]) -> Any:
    """One Lightning logger writing into (or next to) the run folder."""
    # lightning's loggers import in seconds (and wandb/mlflow are optional): only the loggers a run names are imported
    if name == "tensorboard":
        from lightning.fabric.loggers import TensorBoardLogger

        # RUN/tb, as before; purge_step drops events after the resumed step (a killed run's tail)
        return TensorBoardLogger(run_dir, name="", version="tb", default_hp_metric=False, purge_step=start_step or None)
    _require(name)
    if name == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        options = {"project": "handseg", "name": run_dir.name, "save_dir": str(run_dir), **options}
        if state.get("wandb_id") and "id" not in options:
            options |= {"id": state["wandb_id"], "resume": "allow"}
        return WandbLogger(**options)

    from lightning.pytorch.loggers import MLFlowLogger

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri and "tracking_uri" not in options:
        # a local file store in the run folder needs no server; MLflow >= 3 wants it allowed explicitly
        uri = (run_dir / "mlruns").resolve().as_uri()
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    options = {"experiment_name": "handseg", "run_name": run_dir.name, "tracking_uri": uri, **options}
    if state.get("mlflow_id") and "run_id" not in options:
        options["run_id"] = state["mlflow_id"]
    return MLFlowLogger(**options)


def scalars(kind: str, values: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a row as `<kind>/<key>` (nested values flattened as in metrics.csv)."""
    out = {}
    for key, value in flatten(values).items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[f"{kind}/{key}"] = float(value)
    return out


class TrainingLoggers:
    """What the training loop logs into: metrics.csv (always) and the configured Lightning loggers."""

    def __init__(self, config: dict[str, Any], run_dir: str | Path, start_step: int = 0) -> None:
        run_dir = Path(run_dir)
        log = config.get("log") or {"loggers": DEFAULT_LOGGERS}
        check_log_config(log)
        names = [n for n in log["loggers"] if n != "csv"]
        for name in names:  # every missing package is reported before any file is touched
            if name in PACKAGES:
                _require(name)
        state_path = run_dir / STATE_FILE
        state = json.loads(state_path.read_text()) if state_path.is_file() and start_step > 0 else {}
        self.csv = RunLog(run_dir, start_step, tensorboard=False)
        self.loggers: dict[str, Any] = {}
        ids = {}
        for name in names:
            try:
                self.loggers[name] = logger = _build(name, dict(log.get(name) or {}), run_dir, start_step, state)
                if name == "wandb":  # asking for the id starts the W&B / MLflow run: its errors show here
                    ids["wandb_id"] = str(logger.experiment.id)
                elif name == "mlflow":
                    ids["mlflow_id"] = str(logger.run_id)
            except (ConfigError, TypeError):
                raise
            except Exception as exc:  # each package raises its own types (bad URI, unknown option, ...)
                first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                raise ConfigError(f"log.loggers: the {name} logger could not start ({first})") from None
        if ids:
            atomic_write_json(state_path, state | ids)
        if start_step == 0:
            for logger in self.loggers.values():
                logger.log_hyperparams(config)

    def log(self, step: int, epoch: float, kind: str, values: dict[str, Any]) -> None:
        """One row (kind 'train' or 'val'): all of it to metrics.csv, its numbers to every other logger."""
        self.csv.log(step, epoch, kind, values)
        numbers = scalars(kind, values)
        for logger in self.loggers.values():
            logger.log_metrics(numbers, step)

    def close(self, status: str = "success") -> None:
        """Flush and close every logger."""
        self.csv.close()
        for logger in self.loggers.values():
            logger.finalize(status)
