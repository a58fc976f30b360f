"""The wheel carries the configs and a LICENSE, and `handseg demo --quick` runs from an installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from handseg.errors import ConfigError
from handseg.experiments.paths import config_names, resolve_config

ROOT = Path(__file__).resolve().parents[1]
# Subprocesses see neither the checkout (PYTHONPATH) nor a configs override.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HANDSEG_CONFIGS", "VIRTUAL_ENV")}


def test_resolve_config_by_name_path_and_typo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # names resolve outside the checkout
    by_name = resolve_config("table2/dense_attention_seg_cpu")
    assert by_name.name == "dense_attention_seg_cpu.yaml" and by_name.is_file()
    assert resolve_config("configs/table2/fcn8s_cpu.yaml").name == "fcn8s_cpu.yaml"
    assert resolve_config("annotate").name == "annotate.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("inherit: []\n")
    assert resolve_config("mine.yaml") == Path("mine.yaml")
    with pytest.raises(ConfigError, match="did you mean table2/dense_attention_seg_cpu"):
        resolve_config("table2/dense_atention_seg_cpu")
    assert "table3/attention_os8_cpu" in config_names()


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the checkout (so the build leaves nothing in the checkout)."""
    src = tmp_path / "src_copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("src", "configs"):
        skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=skip)
    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
           "-w", str(wheels), str(src)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=180, env=CLEAN_ENV)
    (wheel,) = wheels.glob("handseg-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_the_quick_demo_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "handseg/configs/annotate.yaml" in names
    assert "handseg/configs/table2/dense_attention_seg_contour_cpu.yaml" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("dist-info/LICENSE") for n in names)
    # A fresh venv without the parent's site-packages; the wheel goes in without dependencies, and the
    # dependencies come from this venv's site-packages appended *after* the fresh venv's own (a .pth line), so
    # `import handseg` can only find the installed wheel (the checkout's editable hook is a .pth not processed there).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, timeout=180, env=CLEAN_ENV)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          env=CLEAN_ENV, check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    Path(site, "zz_handseg_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = CLEAN_ENV | {"OMP_NUM_THREADS": "1"}
    where = subprocess.run([str(python), "-c", "import handseg; print(handseg.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where
    proc = subprocess.run([str(venv / "bin" / "handseg"), "demo", "--quick"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (work / "demo" / "report.html").is_file()
    assert str(ROOT) not in proc.stdout + proc.stderr  # nothing was read from the checkout
