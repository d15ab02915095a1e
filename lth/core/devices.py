"""Choosing the device: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import ctypes
import functools
import math
import sys

import torch

from .config import ConfigError

CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve(name: str = "auto") -> torch.device:
    if name not in CHOICES:
        raise ConfigError(f"--device={name!r} is not allowed: choose one of {', '.join(CHOICES)}")
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if available[d])
    if not available[name]:
        raise ConfigError(f"--device={name} is not available on this machine: use auto or cpu")
    return torch.device(name)


def describe(device: torch.device) -> str:
    """The device in words, for the records: "cuda (NVIDIA H100 80GB HBM3)", "cpu (2 threads)"."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' * (n != 1)})"
    return device.type


# Measured by `python -m lth bench` on a 2-core CPU: batched LeNet peaks near
# K = 10 (beyond it Adam's state for K models falls out of cache); grouped
# convolutions run slower per model than one model at a time.
CPU_FC_STACK = 10
CPU_CONV_STACK = 1


def stack_size(model, device: torch.device, batch: int) -> tuple[int, str]:
    """How many models to train as one stack on this device, and why (for the log)."""
    per_model = 16 * model.prunable  # weights, gradients and Adam's two moments, fp32
    positions = math.prod(model.input_shape[1:])  # H*W of an image (1 for a vector of features)
    widths = sum(layer.weight_shape[0] for layer in model.layers)
    per_model += 4 * 3 * batch * widths * positions // max(1, len(model.layers))  # a layer of mean width
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        k = max(1, min(64, int(0.5 * free // per_model)))
        return k, f"K={k}: half of the {free / 2**30:.1f} GiB free on {device} at {per_model / 2**20:.0f} MiB a model"
    if device.type == "mps":
        return 16, "K=16 on MPS (no free-memory query; memory grows linearly with K)"
    if model.convolutional:
        return CPU_CONV_STACK, "K=1: on the CPU grouped convolutions are slower than one model at a time"
    return CPU_FC_STACK, (f"K={CPU_FC_STACK}: on the CPU, beyond it Adam's state falls out of cache "
                          f"({per_model / 2**20:.0f} MiB a model)")


def keep_freed_memory(device: torch.device) -> bool:
    """On a CPU, let glibc keep the memory a training step frees, for the next step; True where it could.

    PyTorch's CPU tensors come straight from malloc, and a step frees and allocates its gradients and activations
    (megabytes each) every time, an evaluation tens of megabytes. glibc serves large blocks with mmap and returns
    them with munmap, so each new page is a fault: 86-988 page faults a LeNet training step at K = 9 on a 2-core
    machine, 13,600 an evaluation of 5,000 examples, which ran 1.13-1.14x as fast without them (the step 0.97-1.17x,
    within that machine's noise; `lth bench`, row 5b). Here every block comes from the heap (no mmap), which goes
    back to the system only above 1 GiB free. Only memory placement changes: the same arithmetic, the same
    numbers. Not glibc (macOS, musl): nothing to do."""
    return device.type == "cpu" and _glibc_keeps_freed_memory()


@functools.cache
def _glibc_keeps_freed_memory() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    return bool(libc.mallopt(m_mmap_max, 0) and libc.mallopt(m_trim_threshold, 2**30))

