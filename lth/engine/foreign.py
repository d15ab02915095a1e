"""Networks this project did not write: any torch.nn.Module (a user's own, or one of torchvision's) as a Model.

The engine trains K models at once from stacked parameters {name: (K, ...)}. A module's parameters stack the
same way, by its own state-dict names, and its forward pass runs K times at once through torch.func
(functional_call under vmap); a module that vmap cannot run (some custom operations cannot be batched) runs one
model at a time instead, with the same numbers. Batch norm needs care: its running averages are part of the
stacked state (each model keeps its own, updated in place under vmap, never trained), its batch counter stays
the module's own.

Prunable layers are, by default, the weight of every Linear and Conv layer; the last Linear is the output layer
(the paper prunes it at its own rate). Each trial's θ0 is the module re-initialised under that trial's seed: every
submodule's reset_parameters(), or the `init` function given with the module.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..core import catalog
from ..core.config import ConfigError
from .model_base import Layer, Model, Params

log = logging.getLogger("lth")

PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
RUNNING = (".running_mean", ".running_var")
_REGISTERED: dict[str, tuple[nn.Module, Callable | None, tuple[str, ...] | None]] = {}


@dataclass(frozen=True)
class ForeignModel(Model):
    module: nn.Module | None = field(default=None, compare=False, repr=False)
    initialise: Callable[[nn.Module], None] | None = field(default=None, compare=False, repr=False)
    stackable: bool = True  # vmap runs the module; else one model at a time
    widest: int = 1000  # floats per example of the widest output of any submodule
    flops: int = 0  # multiply-adds x2 of one forward pass over the prunable layers

    @property
    def convolutional(self) -> bool:
        return any(layer.kind == "conv" for layer in self.layers)

    @property
    def batch_norm(self) -> bool:
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.module.modules())

    def widest_activation(self) -> int:
        return self.widest

    def flops_per_example(self) -> int:
        return self.flops

    def description(self) -> dict:
        """What a run stores of it: its prunable layers, whether it trained as one stack, and the module's repr."""
        return {"layers": [[layer.name, layer.kind, list(layer.weight_shape)] for layer in self.layers],
                "stackable": self.stackable, "module": repr(self.module)}

    def init(self, generators: list[torch.Generator], device="cpu") -> Params:
        """Each model's θ0: the module re-initialised under a seed drawn from its generator."""
        states = [initial_state(self.module, self.initialise, int(torch.randint(2**62, (1,), generator=g)))
                  for g in generators]
        return {n: torch.stack([s[n] for s in states]).to(device) for n in states[0]}

    def forward(self, params: Params, x: torch.Tensor, shared_input: bool = False, train: bool = False) -> torch.Tensor:
        """Logits (K, B, classes); x is (K, B, ...) or, with shared_input, one (B, ...) batch for every model."""
        module = self.module
        device = next(iter(params.values())).device
        if next(module.parameters()).device != device:
            module.to(device)
        module.train(train)

        def one(p: Params, xb: torch.Tensor) -> torch.Tensor:
            return functional_call(module, p, (xb,))

        if self.stackable:
            return vmap(one, in_dims=(0, None if shared_input else 0), randomness="different")(params, x)
        k = next(iter(params.values())).shape[0]
        return torch.stack([one({n: v[i] for n, v in params.items()}, x if shared_input else x[i]) for i in range(k)])


def state_names(module: nn.Module) -> list[str]:
    """What stacks per model: every parameter, and batch norm's running averages."""
    return [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers() if n.endswith(RUNNING)]


def initial_state(module: nn.Module, initialise: Callable[[nn.Module], None] | None, seed: int) -> Params:
    """The module's parameters (and running averages) re-initialised under `seed`, the module itself untouched."""
    fresh = copy.deepcopy(module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with torch.no_grad():
            if initialise is not None:
                initialise(fresh)
            else:
                for m in fresh.modules():
                    if hasattr(m, "reset_parameters"):
                        m.reset_parameters()
    state = dict(fresh.named_parameters()) | dict(fresh.named_buffers())
    return {n: state[n].detach().clone() for n in state_names(module)}


def prunable_layers(module: nn.Module, names: list[str] | None = None) -> tuple[Layer, ...]:
    """The layers whose weights IMP prunes: `names` (module paths, e.g. "features.0"), or every Linear and Conv.
    The last Linear among them is the output layer."""
    found = {n: m for n, m in module.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    if names is None:
        names = list(found)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ConfigError(f"prunable={unknown} is not allowed: name Linear or Conv layers of the module "
                          f"({', '.join(found) or 'it has none'})")
    if not names:
        raise ConfigError("the module has no Linear or Conv layer to prune")
    linears = [n for n in names if isinstance(found[n], nn.Linear)]
    output = linears[-1] if linears else None
    return tuple(Layer(n, "output" if n == output else ("fc" if isinstance(found[n], nn.Linear) else "conv"),
                       tuple(found[n].weight.shape)) for n in names)


def wrap(module: nn.Module, name: str, input_shape, classes: int, initialise: Callable | None = None,
         prunable: list[str] | None = None) -> ForeignModel:
    """The module as a Model, checked on one batch of `input_shape`: its logits must be (B, classes)."""
    module = copy.deepcopy(module).cpu()
    layers = prunable_layers(module, prunable)
    widest, flops = _measure(module, input_shape, classes, name)
    model = ForeignModel(name, layers, (), tuple(input_shape), module, initialise, True, widest, flops)
    try:
        _probe_stack(model)
    except Exception as err:  # vmap has no rule for some operation: one model at a time, the same numbers
        log.info("%s cannot run as one stack under torch.func.vmap (%s): one model at a time", name,
                 str(err).splitlines()[0] if str(err) else type(err).__name__)
        model = ForeignModel(name, layers, (), tuple(input_shape), module, initialise, False, widest, flops)
    return model


def _measure(module: nn.Module, input_shape, classes: int, name: str) -> tuple[int, int]:
    """The widest submodule output (floats per example) and the prunable layers' flops, from one forward pass."""
    widest, flops = [1000], [0]

    def hook(m, _inputs, out):
        if torch.is_tensor(out):
            widest.append(out[0].numel())
            if isinstance(m, PRUNABLE_TYPES):
                positions = out[0].numel() // out.shape[1] if out.dim() > 2 else 1
                flops.append(2 * m.weight.numel() * positions)

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        module.eval()
        with torch.no_grad():
            out = module(torch.zeros(2, *input_shape))
    except Exception as err:
        raise ConfigError(f"{catalog.model_name(name)} cannot take inputs of shape {tuple(input_shape)}: "
                          f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    finally:
        for h in handles:
            h.remove()
    if not torch.is_tensor(out) or tuple(out.shape) != (2, classes):
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ConfigError(f"{catalog.model_name(name)} must give logits of shape (batch, {classes}) for this data "
                          f"set's {classes} classes; it gives {shape} for a batch of 2")
    return max(widest), sum(flops)


def _probe_stack(model: ForeignModel) -> None:
    """Two models, one training step's forward and backward under vmap: raises where vmap cannot run it."""
    params = {n: p.requires_grad_(not n.endswith(RUNNING))
              for n, p in model.init([torch.Generator().manual_seed(i) for i in range(2)]).items()}
    model.forward(params, torch.zeros(2, 2, *model.input_shape), train=True).sum().backward()


# --- the names a run's config gives these networks -------------------------------------------------------------
def module_name(module: nn.Module, initialise: Callable | None, prunable: list[str] | None) -> str:
    """"module:<Class>-<fingerprint>": the fingerprint of its architecture (repr, parameter shapes), its init
    function and its prunable layers, so that a different network never resumes another's run."""
    shapes = [(n, tuple(p.shape)) for n, p in module.state_dict().items()]
    text = repr((repr(module), shapes, getattr(initialise, "__qualname__", None), prunable))
    return f"module:{type(module).__name__}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def register(module: nn.Module, initialise: Callable | None = None, prunable: list[str] | None = None) -> str:
    """Makes a module buildable by the name its run's config stores (in this process); returns the name."""
    name = module_name(module, initialise, prunable)
    _REGISTERED[name] = (copy.deepcopy(module), initialise, tuple(prunable) if prunable is not None else None)
    return name


def build(name: str, input_shape, classes: int) -> ForeignModel:
    """A "torchvision:NAME" network (num_classes from the data set), or a module registered in this process."""
    kind, _, rest = name.partition(":")
    if kind == "torchvision":
        import torchvision  # imported here: only this path needs it

        if rest not in torchvision.models.list_models(module=torchvision.models):
            raise ConfigError(f"--model={name!r} is not allowed: torchvision has no classification model {rest!r} "
                              "(torchvision.models.list_models() lists them, e.g. resnet18, vgg11)")
        return wrap(torchvision.models.get_model(rest, weights=None, num_classes=classes), name, input_shape,
                    classes)
    if name not in _REGISTERED:
        raise ConfigError(f"{name} is a network given to lth.find_tickets in Python, and only Python can build it: "
                          "call find_tickets again with the same module and data (it opens the run) and use its "
                          ".ticket() or .export_ticket(); the run's stored results open anywhere")
    module, initialise, prunable = _REGISTERED[name]
    return wrap(module, name, input_shape, classes, initialise, list(prunable) if prunable is not None else None)
