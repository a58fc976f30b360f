"""Training callbacks: a toy callback added through the registry and the config's callbacks section sees every
hook, its state resumes exactly from last.ckpt, and its keys reach metrics.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handseg.config import validate
from handseg.engine.callbacks import CALLBACKS, Callback, register_callback
from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.runlog import read_metrics_csv
from handseg.engine.train import train
from handseg.errors import ConfigError


class StepCounter(Callback):
    """Counts steps and validations over the whole run (its state resumes) and logs a key of its own."""

    def __init__(self, scale: int = 1) -> None:
        self.scale, self.steps, self.validations, self.events = scale, 0, 0, []

    def before_train(self, trainer: Any) -> None:
        self.events.append(("before_train", trainer.step))

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        self.steps += 1
        if logs is not None:
            logs["counted_steps"] = self.steps * self.scale

    def after_validation(self, trainer: Any, metrics: dict[str, Any], is_best: bool) -> None:
        self.validations += 1

    def after_train(self, trainer: Any) -> None:
        self.events.append(("after_train", trainer.step))
        SEEN.append(self)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "validations": self.validations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.validations = state["steps"], state["validations"]


SEEN: list[StepCounter] = []


@pytest.fixture
def counter() -> Any:
    register_callback("step_counter")(StepCounter)
    SEEN.clear()
    yield
    CALLBACKS.unregister("step_counter")


def test_toy_callback_sees_hooks_logs_and_resumes(
    counter: Any, tiny_dataset: Path, tmp_path: Path, tiny_config: Any
) -> None:
    config = tiny_config(tiny_dataset, max_steps=8, val_every_steps=4, ckpt_every_steps=2, log_every_steps=2)
    config["callbacks"] = [{"name": "step_counter", "scale": 10}]
    train(config, tmp_path / "run", progress=False, stop_after_steps=3)
    first = SEEN[-1]
    assert first.events == [("before_train", 0), ("after_train", 3)]
    saved = read_checkpoint(tmp_path / "run" / "last.ckpt")["callbacks"]
    assert saved["step_counter"] == {"steps": 3, "validations": 0}
    train(config, tmp_path / "run", progress=False)
    resumed = SEEN[-1]
    assert resumed is not first and resumed.events == [("before_train", 3), ("after_train", 8)]
    assert (resumed.steps, resumed.validations) == (8, 2)  # counted over both sessions
    rows = [r for r in read_metrics_csv(tmp_path / "run" / "metrics.csv") if r["kind"] == "train"]
    assert [(r["step"], r["counted_steps"]) for r in rows] == [(2, 20), (4, 40), (6, 60), (8, 80)]


def test_unknown_or_malformed_callbacks_are_config_errors(tiny_dataset: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset)
    with pytest.raises(ConfigError, match=r"callbacks\[0\]: unknown callback 'nope'"):
        validate({**config, "callbacks": [{"name": "nope"}]})
    with pytest.raises(ConfigError, match=r"callbacks: expected a list"):
        validate({**config, "callbacks": {"name": "curves"}})
