"""`python -m lth`: the command line (main), its sweep commands and its tools."""

from .commands import main

__all__ = ["main"]
