"""Registry of pretrained universal MLFFs, loaded once per process and device.

Weights come from ``$SCREENING_MODELS_DIR/<folder>``; only when that folder is absent do we
fall back to the library's own download, which needs a network connection.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screening.schemas.provenance import ModelInfo
from screening.settings import get_settings

logger = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says where we looked and how to fix it."""


@dataclass
class LoadedModel:
    """A loaded MLFF plus its identity.

    Attributes
    ----------
    name : str
        Registry name (``tensornet-matpes-pbe`` or ``chgnet``).
    package : str
        Implementing package.
    backend : Any
        The matgl ``Potential`` or the CHGNet model.
    weights_path : Path
        File or folder the weights came from.
    device : str
        Torch device.
    """

    name: str
    package: str
    backend: Any
    weights_path: Path
    device: str
    weights_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        if self.package not in _CALCULATORS:
            raise ModelLoadError(
                f"model {self.name!r}: package {self.package!r} has no adapter "
                f"(known: {', '.join(sorted(_CALCULATORS))})"
            )
        self.weights_sha256 = sha256_of(self.weights_path)

    @property
    def version(self) -> str:
        """Version of the implementing package."""
        return importlib.metadata.version(self.package)

    def info(self) -> ModelInfo:
        """Return the provenance record for this model."""
        return ModelInfo(
            name=self.name,
            package=self.package,
            version=self.version,
            weights_sha256=self.weights_sha256,
            weights_path=str(self.weights_path),
            device=self.device,
        )

    def calculator(self):
        """Return a fresh ASE calculator backed by the cached model (stress in eV/Å^3)."""
        return _CALCULATORS[self.package](self)


def _matgl_calculator(model: LoadedModel):
    from matgl.ext.ase import PESCalculator

    return PESCalculator(model.backend, stress_unit="eV/A3")


def _chgnet_calculator(model: LoadedModel):
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(model=model.backend, use_device=model.device)


_CALCULATORS = {"matgl": _matgl_calculator, "chgnet": _chgnet_calculator}
"""ASE calculator factory per implementing package (the packages with an adapter)."""


def sha256_of(path: Path) -> str:
    """SHA-256 over a file, or over all files of a folder sorted by name.

    Parameters
    ----------
    path : Path
        File or folder.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def verify_checksums(folder: Path) -> None:
    """Check every file ``folder/SHA256SUMS`` lists (``<hex>  <name>`` lines, as sha256sum
    writes them); no such file: nothing to check.

    Raises
    ------
    ModelLoadError
        One line naming the first file that is missing or whose digest differs.
    """
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        expected, name = parts[0].lower(), parts[1].lstrip("*")
        target = folder / name
        if not target.is_file():
            raise ModelLoadError(f"{target}: listed in {sums} but missing")
        with open(target, "rb") as fh:  # the plain digest sha256sum prints
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != expected:
            raise ModelLoadError(
                f"{target}: SHA-256 differs from {sums} (corrupted or replaced weights); "
                "restore the file from a good copy"
            )


def _resolve_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"SCREENING_DEVICE=cuda but torch {torch.__version__} sees no CUDA device; "
            "set SCREENING_DEVICE=cpu (or auto), or install a CUDA build of torch (README, GPU)"
        )
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


TENSORNET_FOLDER = "TensorNet-MatPES-PBE-v2025.1-PES"  # the weights' folder in the models dir


def supported_elements(name: str) -> set[str] | None:
    """Elements the named model was trained on, read without loading it (None: unknown).

    TensorNet: ``element_types`` of the weights' model.json; CHGNet: Z = 1-94.
    """
    import json

    from pymatgen.core import Element

    if name == "chgnet":
        return {Element.from_Z(z).symbol for z in range(1, 95)}
    models_dir = get_settings().models_dir
    meta = models_dir / TENSORNET_FOLDER / "model.json" if models_dir else None
    if meta is None or not meta.is_file():
        return None
    try:
        doc = json.loads(meta.read_text())
        return set(doc["kwargs"]["model"]["init_args"]["element_types"])
    except (ValueError, KeyError, TypeError):
        return None


def unsupported_elements(name: str, elements) -> list[str]:
    """The symbols among ``elements`` the named model was not trained on, sorted ([] when
    its element list is unknown, see :func:`supported_elements`)."""
    known = supported_elements(name)
    return [] if known is None else sorted(set(elements) - known)


def is_online(host: str = "huggingface.co") -> bool:
    """Cheap check (DNS only) before trying a download that would retry for minutes."""
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _load_tensornet(device: str) -> LoadedModel:
    folder_name = TENSORNET_FOLDER
    import matgl

    models_dir = get_settings().models_dir
    local = models_dir / folder_name if models_dir else None
    if local is not None and local.is_dir():
        missing = [f for f in ("model.json", "model.pt", "state.pt") if not (local / f).is_file()]
        if missing:
            raise ModelLoadError(
                f"model 'tensornet-matpes-pbe': {local} lacks {', '.join(missing)} (a complete "
                "copy has model.json, model.pt and state.pt; see its SHA256SUMS), or choose "
                "--model chgnet"
            )
        verify_checksums(local)  # once per process: loaded models are cached
        try:
            potential = matgl.load_model(str(local))
        except Exception as exc:
            raise ModelLoadError(
                f"model 'tensornet-matpes-pbe' could not be loaded from {local} "
                f"({type(exc).__name__}); expected model.json, model.pt and state.pt there "
                "(see its SHA256SUMS), or choose --model chgnet"
            ) from None
        path = local
    else:
        where = str(local) if local else "SCREENING_MODELS_DIR (unset)"
        fix = (
            f"Fix: set SCREENING_MODELS_DIR to a folder that contains {folder_name}, "
            "or choose --model chgnet."
        )
        if not is_online():
            raise ModelLoadError(
                f"model 'tensornet-matpes-pbe' could not be loaded: no weights folder at {where} "
                f"and no network for matgl's download. {fix}"
            )
        try:
            potential = matgl.load_model(folder_name)  # matgl's own download: online only
        except Exception as exc:
            raise ModelLoadError(
                f"model 'tensornet-matpes-pbe' could not be loaded: no weights folder at {where} "
                f"and matgl's download failed ({type(exc).__name__}). {fix}"
            ) from exc
        path = Path(matgl.utils.io.get_cache_dir()) if hasattr(matgl.utils, "io") else Path(".")
    potential = potential.to(device)
    potential.eval()
    if device != "cpu":
        potential.register_forward_pre_hook(_inputs_to(device))
    return LoadedModel("tensornet-matpes-pbe", "matgl", potential, path, device)


def _inputs_to(device: str) -> Callable:
    """A forward pre-hook that moves a matgl ``Potential``'s inputs to ``device``.

    matgl builds graphs on torch's default device (the CPU) and leaves moving them to the
    caller; with this hook its ASE calculator and our batched calls both work on a GPU
    without changing torch's process-wide default device.
    """

    import numpy as np
    import torch

    def hook(_module, args):
        def move(x):
            if isinstance(x, np.ndarray):
                return torch.as_tensor(x, device=device)
            return x.to(device) if hasattr(x, "to") else x

        return tuple(move(a) for a in args)

    return hook


def _load_chgnet(device: str) -> LoadedModel:
    try:
        import chgnet
        from chgnet.model import CHGNet
    except ImportError as exc:  # pragma: no cover - chgnet is a hard dependency
        raise ModelLoadError(
            "model 'chgnet' could not be loaded: the chgnet package is not installed. "
            "Fix: pip install chgnet, or choose --model tensornet-matpes-pbe."
        ) from exc
    weights = next(Path(chgnet.__file__).parent.joinpath("pretrained", "0.3.0").glob("*.pth.tar"))
    model = CHGNet.load(model_name="0.3.0", use_device=device, verbose=False)
    return LoadedModel("chgnet", "chgnet", model, weights, device)


_LOADERS: dict[str, Callable[[str], LoadedModel]] = {
    "tensornet-matpes-pbe": _load_tensornet,
    "chgnet": _load_chgnet,
}


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`."""
    return sorted(_LOADERS)


def check_model_name(name: str) -> str:
    """Validate a model name before any work; raise :class:`ModelLoadError` if unknown."""
    if name not in _LOADERS:
        raise ModelLoadError(
            f"unknown model '{name}': choose one of {', '.join(available_models())}."
        )
    return name


def worker_threads() -> int:
    """Threads for this worker: SCREENING_THREADS, else an explicit OMP_NUM_THREADS, else
    cores / SCREENING_WORKERS_PER_NODE."""
    settings = get_settings()
    if settings.threads:
        return settings.threads
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // settings.workers_per_node)


def configure_threads() -> int:
    """Set torch intra-op and BLAS threads of this process to :func:`worker_threads`."""
    import torch
    from threadpoolctl import threadpool_limits

    n = worker_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    threadpool_limits(n)
    return n


def load_model(name: str | None = None, *, device: str | None = None) -> LoadedModel:
    """Return the named model, loading it on first use and reusing it afterwards.

    Parameters
    ----------
    name : str, optional
        Registry name; defaults to ``settings.default_model``.
    device : str, optional
        ``cpu``, ``cuda`` or ``auto``; defaults to ``settings.device``.

    Raises
    ------
    ModelLoadError
        Unknown name, or weights that cannot be found or downloaded.
    """
    settings = get_settings()
    name = check_model_name(name or settings.default_model)
    configure_threads()
    resolved = _resolve_device(device or settings.device)
    return _load_cached(name, resolved, str(settings.models_dir))


@functools.cache
def _load_cached(name: str, device: str, _models_dir: str) -> LoadedModel:
    logger.info("loading MLFF %s on %s", name, device)
    if name != "chgnet":  # matgl models: Warp neighbour lists
        from screening.mlff.warp_init import init_warp_quietly

        init_warp_quietly()
    return _LOADERS[name](device)
