"""What accelerators this process can use, and the versions of the libraries that matter.

Both functions are cheap after their first call and never import TensorFlow unless asked to:
the web process, which serves only tree models, must not pay for (or load) TensorFlow.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["detect_devices", "gpu_label", "library_versions"]

_NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


def detect_devices(include_tensorflow: bool = False) -> dict[str, Any]:
    """Report {"xgboost_cuda": bool, "tensorflow_gpus": [names], "device": "cpu" | GPU label}.

    tensorflow_gpus stays empty unless include_tensorflow is true, since listing them imports
    TensorFlow (seconds, and hundreds of MB) when it is not imported yet.
    """
    gpus = _visible_nvidia_gpus()
    tensorflow_gpus = _tensorflow_gpus() if include_tensorflow else []
    xgboost_cuda = bool(gpus) and _xgboost_built_with_cuda()
    if tensorflow_gpus:
        device = gpu_label(0, tensorflow_gpus[0])
    elif gpus:
        device = gpu_label(0, gpus[0])
    else:
        device = "cpu"
    return {"xgboost_cuda": xgboost_cuda, "tensorflow_gpus": tensorflow_gpus, "device": device}


def gpu_label(index: int, name: str) -> str:
    """The device string stored with explanations, e.g. "cuda:0 NVIDIA H100 80GB HBM3"."""
    return f"cuda:{index} {name}"


def library_versions() -> dict[str, str]:
    """Versions of shap, xgboost and numpy, plus tensorflow and keras if already imported."""
    versions = dict(_installed_versions())
    # TensorFlow is reported only when this process has loaded it: looking it up would cost
    # nothing, but an explanation must only claim libraries that could have influenced it.
    for module_name in ("tensorflow", "keras"):
        module = sys.modules.get(module_name)
        if module is not None:
            versions[module_name] = str(getattr(module, "__version__", "unknown"))
    return versions


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for name, distributions in (
        ("shap", ("shap",)),
        ("xgboost", ("xgboost", "xgboost-cpu")),
        ("numpy", ("numpy",)),
    ):
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        for distribution in distributions:
            if version is not None:
                break
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
        if version is not None:
            found.append((name, str(version)))
    return tuple(found)


@functools.cache
def _visible_nvidia_gpus() -> list[str]:
    """NVIDIA GPU names in PCI order, honouring CUDA_VISIBLE_DEVICES; [] when there are none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    names = _gpu_names_from_proc() or _gpu_names_from_nvidia_smi()
    if visible is not None:
        # Only plain indices can be mapped without the CUDA runtime; UUIDs keep the full list.
        indices = [part.strip() for part in visible.split(",")]
        if all(part.isdigit() for part in indices):
            names = [names[int(i)] for i in indices if int(i) < len(names)]
    return names


def _gpu_names_from_proc() -> list[str]:
    # The NVIDIA driver publishes one folder per GPU; reading it costs microseconds, where
    # nvidia-smi costs tens of milliseconds and initialising CUDA costs seconds.
    if not _NVIDIA_PROC.is_dir():
        return []
    names = []
    for info in sorted(_NVIDIA_PROC.glob("*/information")):
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model":
                names.append(value.strip())
                break
    return names


def _gpu_names_from_nvidia_smi() -> list[str]:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return []
    try:
        result = subprocess.run(
            [executable, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


@functools.cache
def _xgboost_built_with_cuda() -> bool:
    try:
        xgboost = importlib.import_module("xgboost")
    except ImportError:
        return False
    return bool(xgboost.build_info().get("USE_CUDA", False))


def _tensorflow_gpus() -> list[str]:
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        names.append(str(details.get("device_name", device.name)))
    return names
