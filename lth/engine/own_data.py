"""Data sets named by a form rather than listed: an .npz at a path, a folder of images per class, or tensors
given to lth.find_tickets in Python.

Files are checked when read, before a run's folder is made: one message names the file and what was expected.
Images are pixels 0-255, scaled like the built-in sets (x/255, then standardised by the training split's own
per-channel mean and standard deviation, or raw with --input-scaling raw). Tensors are used as given.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ..core.config import DataConfig
from .data import NPZ_KEYS, DataError, Dataset, _first_line, _prepare, _read_npz

_REGISTERED: dict[str, Dataset] = {}


def load(cfg: DataConfig) -> Dataset:
    """The data set of an npz:, folder: or tensors: name, on the CPU."""
    kind, _, rest = cfg.dataset.partition(":")
    if kind == "tensors":
        return registered(cfg.dataset)
    path = Path(rest).expanduser()
    if kind == "npz":
        arrays = read_npz(path)
    else:
        arrays = read_folder(path)
    return _prepare(cfg, *arrays, source=str(path))


def read_npz(path: Path):
    """The four arrays of an .npz of uint8 images and integer labels."""
    if not path.is_file():
        raise DataError(f"npz:{path}: no such file; an .npz with arrays {', '.join(NPZ_KEYS)}")
    arrays = _read_npz(path)  # checked for its arrays and their shapes; the labels come back as int64
    with np.load(path, allow_pickle=False) as z:
        dtype = z["x_train"].dtype
        _check_labels(z["y_train"], z["y_test"], f"npz:{path}")  # as stored, before any conversion
    if dtype != np.uint8:
        raise DataError(f"npz:{path}: x_train holds {dtype}; images must be uint8 pixels 0-255")
    return arrays


def read_folder(root: Path):
    """Images under root/train/<class>/ and root/test/<class>/ (every file torchvision's ImageFolder reads), all
    of one size, as uint8 arrays (N, C, H, W); classes numbered in sorted order of the training folders."""
    from PIL import Image
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    where = f"folder:{root}"
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DataError(f"{where}: no {split}/ folder; the tree needs train/<class>/ and test/<class>/ folders "
                            "of images")
    try:
        classes, index = find_classes(str(root / "train"))
        test_classes, _ = find_classes(str(root / "test"))
    except (FileNotFoundError, OSError) as err:
        raise DataError(f"{where}: {_first_line(err)}") from None
    if not set(test_classes) <= set(classes):
        extra = sorted(set(test_classes) - set(classes))
        raise DataError(f"{where}: test/ has classes train/ lacks: {', '.join(extra)}")
    out, mode, size = [], None, None
    for split in ("train", "test"):
        try:
            samples = make_dataset(str(root / split), index, IMG_EXTENSIONS, allow_empty=split == "test")
        except FileNotFoundError as err:
            raise DataError(f"{where}: {_first_line(err)}") from None
        images = []
        for file, _ in samples:
            try:
                with Image.open(file) as im:
                    mode = mode or ("L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB")
                    pixels = np.asarray(im.convert(mode))
            except OSError as err:
                raise DataError(f"{file}: not a readable image ({_first_line(err)})") from None
            size = size or pixels.shape
            if pixels.shape != size:
                raise DataError(f"{file}: {pixels.shape[:2]} pixels where the first image has {size[:2]}; every "
                                "image must have one size")
            images.append(pixels)
        if not images:
            raise DataError(f"{where}: no images in {split}/ (files ending {', '.join(IMG_EXTENSIONS)})")
        x = np.stack(images)
        x = x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out += [x, np.array([label for _, label in samples], dtype=np.int64)]
    return tuple(out)


def _check_labels(y_train: np.ndarray, y_test: np.ndarray, where: str) -> None:
    for y, split in ((y_train, "y_train"), (y_test, "y_test")):
        if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            raise DataError(f"{where}: {split} must hold class numbers 0, 1, 2, ...; got {y.dtype} "
                            f"from {y.min() if len(y) else '-'}")


# --- tensors given in Python ----------------------------------------------------------------------------------
def registered(name: str) -> Dataset:
    """The tensors registered under `name` in this process."""
    if name not in _REGISTERED:
        raise DataError(f"{name} is a data set given to lth.find_tickets in Python: only that call (with the same "
                        "tensors) can train on it; its stored results open anywhere")
    return _REGISTERED[name]


def as_tensors(split, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) from a pair of tensors or a torch Dataset of (x, y) items: x float (N, ...), y int64 (N,)."""
    if isinstance(split, torch.utils.data.Dataset) and not isinstance(split, tuple):
        items = [split[i] for i in range(len(split))]
        split = (torch.stack([torch.as_tensor(x) for x, _ in items]), torch.as_tensor([int(y) for _, y in items]))
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise DataError(f"{what} must be (x, y) tensors or a torch Dataset of (x, y) items")
    x, y = (torch.as_tensor(v) for v in split)
    if x.dim() < 2 or y.dim() != 1 or len(x) != len(y) or not len(x):
        raise DataError(f"{what}: x must be (N, ...) and y (N,) with N > 0; got {tuple(x.shape)} and {tuple(y.shape)}")
    if not x.is_floating_point() or y.is_floating_point() or (y < 0).any():
        raise DataError(f"{what}: x must be floats and y class numbers 0, 1, 2, ...; got {x.dtype} and {y.dtype}")
    return x.float().contiguous(), y.long().contiguous()


def register(train, val, test) -> str:
    """Makes tensors loadable by the name a run's config stores (in this process): "tensors:<hash of the data>", so
    that other data never resume a run; returns the name."""
    (xt, yt), (xv, yv), (xs, ys) = (as_tensors(s, w) for s, w in ((train, "train"), (val, "val"), (test, "test")))
    if not xt.shape[1:] == xv.shape[1:] == xs.shape[1:]:
        raise DataError(f"train, val and test examples differ in shape: {tuple(xt.shape[1:])}, "
                        f"{tuple(xv.shape[1:])}, {tuple(xs.shape[1:])}")
    digest = hashlib.sha256()
    for t in (xt, yt, xv, yv, xs, ys):
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.numpy().tobytes())
    name = f"tensors:{digest.hexdigest()[:12]}"
    classes = int(max(yt.max(), yv.max(), ys.max())) + 1
    _REGISTERED[name] = Dataset(xt, yt, xv, yv, xs, ys, classes)
    return name

