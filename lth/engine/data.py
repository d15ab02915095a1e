"""Data sets as whole tensors on the device; batches are drawn by index.

Sources, in order: ``<data_dir>/<name>.npz`` (arrays x_train, y_train, x_test,
y_test: the format of ../shared/data), torchvision's folder layout under
``<data_dir>``, then torchvision's download when allowed and online.
"""

from __future__ import annotations

import codecs
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import catalog
from ..core.config import DataConfig
from ..core.seeds import generator

# Per-channel mean/std of the training images scaled to [0, 1].
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """Data missing or malformed; the message says what was expected and where."""


@dataclass
class Dataset:
    x_train: torch.Tensor  # (N, C, H, W) float32, normalised
    y_train: torch.Tensor  # (N,) int64
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> "Dataset":
        moved = {k: v.to(device) if torch.is_tensor(v) else v for k, v in vars(self).items()}
        return Dataset(**moved)


def load(cfg: DataConfig, data_dir: Path, device="cpu", download: bool = False) -> Dataset:
    if catalog.form(cfg.dataset, catalog.DATA_FORMS):  # npz:PATH, folder:PATH, tensors:ID
        from . import own_data

        return own_data.load(cfg).to(device)
    if cfg.dataset == "synthetic":
        arrays, source = synthetic_arrays(cfg), "synthetic data"
    else:
        arrays, source = _read_arrays(cfg.dataset, Path(data_dir), download)
    return _prepare(cfg, *arrays, source=source).to(device)


def synthetic_arrays(cfg: DataConfig, classes: int = 10):
    """Synthetic images: a faint fixed prototype per class under heavy noise.

    The signal share (13%) is chosen so a dense LeNet reaches about 85% test
    accuracy in a few hundred iterations: learnable, with room to differ.
    """
    shape = tuple(int(s) for s in cfg.synthetic_shape.split("x"))
    rng = np.random.default_rng(1234)
    prototypes = rng.uniform(0, 255, size=(classes, *shape))
    n = cfg.synthetic_train + cfg.synthetic_test
    y = rng.integers(0, classes, size=n)
    signal = 0.13
    x = (prototypes[y] * signal + rng.uniform(0, 255 * (1 - signal), size=(n, *shape))).astype(np.uint8)
    k = cfg.synthetic_train
    return x[:k], y[:k].astype(np.int64), x[k:], y[k:].astype(np.int64)


def _read_arrays(name: str, data_dir: Path, download: bool):
    """The four arrays and where they came from."""
    npz = data_dir / f"{name}.npz"
    if npz.exists():
        return _read_npz(npz), str(npz)
    folder = catalog.DATASETS[name].torchvision
    try:
        return _read_torchvision(name, data_dir, download), str(data_dir / folder)
    except (RuntimeError, OSError) as err:  # torchvision: "Dataset not found", or no network
        hint = f"put {name}.npz (arrays {', '.join(NPZ_KEYS)}) or torchvision's {folder} files in {data_dir}"
        why = f" and the download failed ({_first_line(err)})" if download else ""
        raise DataError(f"{name} not found in {data_dir}{why}: {hint}, or pass --data-dir / set LTH_DATA_DIR") from None


def _read_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in NPZ_KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}; an .npz needs {', '.join(NPZ_KEYS)}")
            arrays = [z[k] for k in NPZ_KEYS]
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"{path}: not a readable .npz ({_first_line(err)})") from None
    x_train, y_train, x_test, y_test = arrays
    for xs, ys, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if xs.ndim not in (3, 4) or len(xs) != len(ys) or ys.ndim != 1:
            raise DataError(f"{path}: x_{split} must be (N, H, W) or (N, H, W, C) with y_{split} of shape (N,); "
                            f"got {xs.shape} and {ys.shape}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{path}: x_train images {x_train.shape[1:]} and x_test images {x_test.shape[1:]} differ")
    return _channels_first(x_train), y_train.astype(np.int64), _channels_first(x_test), y_test.astype(np.int64)


def _channels_first(x: np.ndarray) -> np.ndarray:
    return x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# torchvision's layout: data_batch_1..5 and test_batch, pickled dicts. pickle here only reads that input format
# (restricted to numpy arrays below); the project's own store never pickles.
CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    """CIFAR-10's batches are pickles: unpickle numpy arrays, lists and dicts, and refuse anything else."""

    def find_class(self, module, name):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct
        if module == "_codecs":
            return codecs.encode
        return getattr(np, name)


def _read_cifar_folder(folder: Path):
    def batch(name: str):
        path = folder / name
        try:
            with open(path, "rb") as f:
                d = _ArraysOnly(f, encoding="latin1").load()
            x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(d["labels"], dtype=np.int64)
        except FileNotFoundError:
            raise DataError(f"{path} is missing: {folder} needs data_batch_1 to data_batch_5 and test_batch") from None
        except Exception as err:
            raise DataError(f"{path}: not a CIFAR-10 batch ({_first_line(err)})") from None
        if len(x) != len(y):
            raise DataError(f"{path}: {len(x)} images but {len(y)} labels")
        return x, y

    train = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test


def _read_torchvision(name: str, data_dir: Path, download: bool):
    import torchvision  # imported here: only this path needs it

    cls = getattr(torchvision.datasets, catalog.DATASETS[name].torchvision)
    if name == "cifar10":
        if not (data_dir / CIFAR_FOLDER).is_dir():
            cls(root=str(data_dir), train=True, download=download)  # fetches and unpacks, or says it is not there
        return _read_cifar_folder(data_dir / CIFAR_FOLDER)
    out = []
    for train in (True, False):
        ds = cls(root=str(data_dir), train=train, download=download)
        x = np.asarray(ds.data.numpy() if torch.is_tensor(ds.data) else ds.data)
        y = np.asarray(ds.targets.numpy() if torch.is_tensor(ds.targets) else ds.targets)
        out += [_channels_first(x), y.astype(np.int64)]
    return tuple(out)


def _prepare(cfg: DataConfig, x_train, y_train, x_test, y_test, source: str = "") -> Dataset:
    if cfg.validation_size >= len(x_train):
        raise DataError(f"--validation-size={cfg.validation_size} must be smaller than the {len(x_train)} "
                        "training examples")
    order = torch.randperm(len(x_train), generator=generator(cfg.split_seed, "validation_split"))
    train_idx, val_idx = order[: -cfg.validation_size], order[-cfg.validation_size:]

    x_train = torch.from_numpy(np.asarray(x_train, dtype=np.float32) / 255.0)
    x_test = torch.from_numpy(np.asarray(x_test, dtype=np.float32) / 255.0)
    if cfg.input_scaling == "raw":  # x/255 as it is: a blank pixel is 0, and its weights get no gradient
        mean, std = torch.zeros(1, x_train.shape[1], 1, 1), torch.ones(1, x_train.shape[1], 1, 1)
    elif cfg.dataset in NORMALISATION:
        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in NORMALISATION[cfg.dataset])
    else:  # statistics of the training split itself
        mean = x_train[train_idx].mean(dim=(0, 2, 3), keepdim=True)
        std = x_train[train_idx].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    if mean.shape[1] != x_train.shape[1]:
        raise DataError(f"{source}: {cfg.dataset} images have {mean.shape[1]} channel(s), "
                        f"the data has {x_train.shape[1]}")
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(x_train[train_idx].contiguous(), y_train[train_idx].contiguous(),
                   x_train[val_idx].contiguous(), y_train[val_idx].contiguous(), x_test, y_test, classes)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
