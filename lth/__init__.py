"""lth: lottery-ticket experiments (iterative magnitude pruning and its controls), stored as plain files.

Flow: config -> engine (data, models, pruning, train, lottery) -> store -> results -> figures.
This package never imports streamlit; the app calls it.

`from lth import find_tickets` runs IMP on your own torch.nn.Module and tensors (lth.api.find); it is imported
when first asked for, so that importing lth (as the app does) does not import torch.
"""


def __getattr__(name: str):
    if name in ("find_tickets", "TicketRun"):
        from .api import find

        return getattr(find, name)
    raise AttributeError(f"module 'lth' has no attribute {name!r}")
