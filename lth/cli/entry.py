"""`python -m lth ...`: every command's parser, and main, which runs one and turns what goes wrong into one line.

The commands: run, ls, show, export, check-paper (lth.cli.experiments); export-ticket (lth.cli.tickets); gates,
prune-init, stability (lth.cli.sweeps); bench, class-bench, cluster-bench, migrate (lth.cli.tools). The `run`
flags are generated from the config dataclasses (lth.cli.flags), so every field is overridable and its help text
is the field's own.
"""

from __future__ import annotations

import logging
import sys

from ..core.config import ConfigError
from ..engine.data import DataError
from . import experiments, flags, sweeps, tickets, tools

HANDLERS = {**experiments.HANDLERS, **tickets.HANDLERS, **sweeps.HANDLERS, **tools.HANDLERS}


def build_parser() -> flags.Parser:
    parser = flags.Parser(prog="lth",
                          description="Lottery-ticket experiments: iterative magnitude pruning and its controls.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=flags.Parser)
    experiments.add_commands(sub)
    tickets.add_commands(sub)
    sweeps.add_commands(sub)
    tools.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..core.store import RunBusy
    from ..engine.train import Cancelled, Diverged

    args = build_parser().parse_args(argv)
    chatty = args.command in ("run", *sweeps.HANDLERS) and not args.quiet
    logging.basicConfig(level=logging.INFO if chatty else logging.WARNING, format="%(message)s")
    try:
        flags.check_folders(args)
        return HANDLERS[args.command](args)
    except (ConfigError, DataError) as err:
        sys.stderr.write(f"lth {args.command}: error: {err}\n")
        return flags.EXIT_BAD_INPUT
    except Diverged as err:
        sys.stderr.write(f"lth {args.command}: run failed: {err}\n")
        return 1
    except Cancelled:
        sys.stderr.write(f"lth {args.command}: cancelled; run the same command again to resume\n")
        return 130
    except RunBusy as err:
        sys.stderr.write(f"lth {args.command}: {err}\n")
        return 1
