"""`python -m lth`: the command line. entry (the parser and main), flags (generated from the configs, and shared),
experiments (run, ls, show, export, check-paper), sweeps (gates, prune-init, stability), tools (benchmarks, migrate).
"""

from .entry import build_parser, main

__all__ = ["build_parser", "main"]
