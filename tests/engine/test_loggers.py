"""Training loggers: metrics.csv + TensorBoard by default, W&B and MLflow through Lightning's loggers, config checks.

The glue (options, ids kept for resume, metric names, the hook-up in train) is tested with a recording stand-in
for Lightning's WandbLogger / MLFlowLogger and an empty module injected as `wandb` / `mlflow`, so these tests need
neither package; where the real packages are installed, W&B (offline mode) and MLflow (local file store) are
tested for real, and skipped with the reason otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from handseg.config import diff_configs, validate
from handseg.engine.loggers import TrainingLoggers
from handseg.engine.runlog import read_metrics_csv
from handseg.errors import ConfigError


def _config(*loggers: str, **options: Any) -> dict[str, Any]:
    return validate(
        {"model": {"name": "unet"}, "data": {"size": [64, 48]}, "log": {"loggers": list(loggers), **options}}
    )


class Recorder:
    """Stands in for a Lightning logger class: records options, hyperparameters, metrics and the final status."""

    instances: ClassVar[list[Recorder]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.run_id = options.get("run_id") or options.get("id") or f"run-{len(Recorder.instances)}"
        self.experiment = types.SimpleNamespace(id=self.run_id)
        self.params: dict[str, Any] | None = None
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.status: str | None = None
        Recorder.instances.append(self)

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.params = params

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.append((step, dict(metrics)))

    def finalize(self, status: str) -> None:
        self.status = status


@pytest.fixture
def fake_packages(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    """Empty `wandb` and `mlflow` modules and the Recorder in place of Lightning's WandbLogger and MLFlowLogger."""
    import lightning.pytorch.loggers as pl_loggers

    Recorder.instances = []
    for name in ("wandb", "mlflow"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setattr(pl_loggers, "WandbLogger", Recorder)
    monkeypatch.setattr(pl_loggers, "MLFlowLogger", Recorder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Recorder


def test_default_is_metrics_csv_and_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = validate({"model": {"name": "unet"}})
    assert config["log"]["loggers"] == ["csv", "tensorboard"]
    logs = TrainingLoggers(config, tmp_path, 0)
    logs.log(2, 0.5, "train", {"loss": 1.25, "lr": 0.01})
    logs.log(4, 1.0, "val", {"miou": 0.5, "iu": [0.9, 0.4, 0.2], "note": "text is left out of the scalars"})
    logs.close()
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert [(r["step"], r["kind"]) for r in rows] == [(2, "train"), (4, "val")] and rows[1]["iu_1"] == 0.4
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert events.Scalars("train/loss")[0].value == 1.25 and events.Scalars("val/iu_2")[0].step == 4
    assert "val/note" not in events.Tags()["scalars"]
    assert not (tmp_path / "loggers.json").exists()  # nothing to resume into without W&B / MLflow


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="did you mean 'tensorboard'"):
        _config("csv", "tensorbord")
    with pytest.raises(ConfigError, match="log.loggers: expected a list"):
        validate({"model": {"name": "unet"}, "log": {"loggers": "csv"}})
    with pytest.raises(ConfigError, match="named twice"):
        _config("csv", "csv")
    with pytest.raises(ConfigError, match="log.wandb"):
        validate({"model": {"name": "unet"}, "log": {"wandb": "offline"}})


def test_loggers_may_change_on_resume() -> None:
    assert diff_configs(_config("csv"), _config("csv", "tensorboard", "mlflow")) == []


def test_missing_package_is_named_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    with pytest.raises(ConfigError, match=r"mlflow needs the mlflow package.*pip install mlflow"):
        TrainingLoggers(_config("csv", "mlflow"), tmp_path, 0)
    assert list(tmp_path.iterdir()) == []


def test_wandb_and_mlflow_glue_with_stand_ins(tmp_path: Path, fake_packages: type[Recorder]) -> None:
    config = _config("csv", "wandb", "mlflow", wandb={"mode": "offline", "project": "p"})
    logs = TrainingLoggers(config, tmp_path / "run", 0)
    wandb, mlflow = fake_packages.instances
    assert wandb.options == {"project": "p", "name": "run", "save_dir": str(tmp_path / "run"), "mode": "offline"}
    assert mlflow.options["tracking_uri"] == (tmp_path / "run" / "mlruns").resolve().as_uri()  # local, no server
    assert wandb.params == config and mlflow.params == config
    logs.log(3, 0.25, "val", {"miou_hand_object": 0.75, "frames": 4})
    logs.close()
    assert mlflow.metrics == [(3, {"val/miou_hand_object": 0.75, "val/frames": 4.0})] and mlflow.status == "success"
    state = json.loads((tmp_path / "run" / "loggers.json").read_text())
    assert state == {"wandb_id": wandb.run_id, "mlflow_id": mlflow.run_id}
    # a resumed run logs into the same W&B and MLflow runs and does not log its hyperparameters again
    TrainingLoggers(config, tmp_path / "run", 3)
    wandb2, mlflow2 = fake_packages.instances[2:]
    assert (wandb2.options["id"], wandb2.options["resume"]) == (wandb.run_id, "allow")
    assert mlflow2.options["run_id"] == mlflow.run_id and mlflow2.params is None


def test_training_feeds_the_loggers(tiny_dataset: Path, tmp_path: Path, tiny_config, fake_packages) -> None:
    from handseg.engine.train import train

    config = tiny_config(tiny_dataset, max_steps=4, val_every_steps=2, log_every_steps=2)
    config["log"] = {"loggers": ["csv", "mlflow"]}
    train(config, tmp_path / "run", progress=False)
    (mlflow,) = fake_packages.instances
    steps: dict[int, dict[str, float]] = {}
    for step, metrics in mlflow.metrics:  # a train row and a val row at step 2
        steps.setdefault(step, {}).update(metrics)
    assert "train/loss" in steps[2] and 0 <= steps[4]["val/miou_hand_object"] <= 1
    assert mlflow.status == "success" and mlflow.params["train"]["max_steps"] == 4
    assert not (tmp_path / "run" / "tb").exists()  # TensorBoard left out of the list: not written


@pytest.mark.skipif(not importlib.util.find_spec("mlflow"), reason="mlflow is not installed (pip install mlflow)")
def test_mlflow_local_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    config = _config("csv", "mlflow")
    logs = TrainingLoggers(config, tmp_path, 0)
    logs.log(2, 0.5, "train", {"loss": 2.0})
    logs.close()
    logs = TrainingLoggers(config, tmp_path, 2)  # resume: the same MLflow run
    logs.log(4, 1.0, "train", {"loss": 1.0})
    logs.close()
    run_id = json.loads((tmp_path / "loggers.json").read_text())["mlflow_id"]
    client = MlflowClient((tmp_path / "mlruns").resolve().as_uri())
    history = client.get_metric_history(run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(2, 2.0), (4, 1.0)]
    assert client.get_run(run_id).data.params["train/batch_size"] == "4"


@pytest.mark.skipif(not importlib.util.find_spec("wandb"), reason="wandb is not installed (pip install wandb)")
def test_wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    logs = TrainingLoggers(_config("csv", "wandb", wandb={"mode": "offline"}), tmp_path, 0)
    logs.log(2, 0.5, "train", {"loss": 2.5})
    run = logs.loggers["wandb"].experiment
    assert run.summary["train/loss"] == 2.5 and run.config["train"]["batch_size"] == 4
    logs.close()
    run_id = json.loads((tmp_path / "loggers.json").read_text())["wandb_id"]
    assert list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
