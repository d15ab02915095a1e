"""Keep freed memory in the process on Linux: a CPU training step allocates and frees the same large tensors
(gradients, activations) every iteration, and glibc's default returns them to the OS and faults them back in
page by page. `python -m lth bench` (row 9) measures the step both ways in one run; the numbers a step computes
do not depend on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
KEPT = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 2**30}  # heap up to 32 MB a block; keep up to 1 GiB freed
GLIBC_DEFAULTS = {M_MMAP_THRESHOLD: 128 * 2**10, M_TRIM_THRESHOLD: 128 * 2**10}
_libc = None


def _mallopt(settings: dict[int, int]) -> bool:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
        if _libc is not False and not hasattr(_libc, "mallopt"):  # not glibc (macOS, musl): nothing to tune
            _libc = False
    return bool(_libc) and all(_libc.mallopt(k, v) == 1 for k, v in settings.items())


def keep_freed_memory() -> bool:
    """Tune the allocator for training (idempotent); False where there is no glibc mallopt."""
    return _mallopt(KEPT)


def glibc_defaults() -> bool:
    """glibc's documented starting values (for the bench's comparison only)."""
    return _mallopt(GLIBC_DEFAULTS)
