"""Without libusb, the RealSense error says which Debian package to install (not pip)."""

from __future__ import annotations

import builtins

import pytest

from handseg.data import realsense
from handseg.errors import HandsegError


def test_missing_libusb_names_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyrealsense2":
            raise ImportError("libusb-1.0.so.0: cannot open shared object file: No such file or directory")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(HandsegError, match="apt-get install libusb-1.0-0") as exc:
        realsense._rs()
    assert "pip install" not in str(exc.value)
