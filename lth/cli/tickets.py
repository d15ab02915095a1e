"""`python -m lth export-ticket`: a ticket out of the store as a PyTorch file (lth.runs.ticket_file)."""

from __future__ import annotations

from pathlib import Path

from ..core import paths
from . import flags


def add_commands(sub) -> None:
    p = sub.add_parser("export-ticket", help="write a ticket (its starting weights and mask, in "
                                             "torch.nn.utils.prune's form) as a torch or safetensors file")
    flags.add_run_argument(p, latest=False)
    p.add_argument("out", type=Path, help="the file to write (and OUT.json beside it, saying what it holds)")
    p.add_argument("--level", type=int, required=True, help="the pruning level (0: dense)")
    p.add_argument("--trial", type=int, default=0, help="which trial (default 0)")
    p.add_argument("--arm", default="ticket", help="ticket (default), or a control: reinit, random_prune, one_shot")
    p.add_argument("--copy", type=int, default=0, help="which copy of a control drawn more than once (default 0)")
    p.add_argument("--format", choices=("torch", "safetensors"), default=None,
                   help="torch (torch.save; read with torch.load(..., weights_only=True)) or safetensors "
                        "(default: safetensors for a .safetensors OUT, else torch)")
    flags.add_location_flags(p)


def cmd_export_ticket(args) -> int:
    from ..runs import results, ticket_file  # torch import deferred: `lth --help` stays fast

    run = results.Run(results.resolve(args.run, paths.runs_dir(args.runs_dir)))
    state, meta = ticket_file.ticket_state(run, args.level, args.trial, args.arm, args.copy)
    fmt = args.format or ("safetensors" if args.out.suffix == ".safetensors" else "torch")
    out = ticket_file.write(state, meta, args.out, fmt)
    print(f"wrote {out} ({fmt}): {meta['arm']} of level {meta['level']}, trial {meta['trial']}, "
          f"{meta['weights_kept']:,} of {meta['prunable_weights']:,} weights ({100 * meta['remaining']:.2f}%), "
          f"starting from {meta['starts_from']}; what it holds: {out.name}.json")
    return 0


HANDLERS = {"export-ticket": cmd_export_ticket}
