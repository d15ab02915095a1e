"""What a user can name: every network, data set and method, each with the name a chart or page shows.

One registry each, read by the config's choices, the engine (which builds the
networks and reads the data sets by these names), the figures' subtitles, the
CLI's help and the app. Torch-free, like the rest of lth.core.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    display: str
    batch_norm: bool = False  # built by lth.engine.deep_models; network slimming needs one


@dataclass(frozen=True)
class DataSet:
    display: str
    torchvision: str | None = None  # its class in torchvision.datasets, which is also its folder's name on disk


@dataclass(frozen=True)
class Method:
    """A way of finding masks that an IMP run's sweep adds (lth gates / prune-init)."""

    display: str
    # the kind of sweep that runs it, the key its settings are stored under in method.json (lth.core.sweeps):
    # "gates" (masks learned by gradient descent, lth gates) or "init" (pruned at initialization, lth prune-init)
    sweep_kind: str
    rule: str  # how its mask is read off, in one sentence (shown beside its results)


MODELS: dict[str, Network] = {
    "lenet_300_100": Network("LeNet-300-100"),
    "conv2": Network("Conv-2"),
    "conv4": Network("Conv-4"),
    "conv6": Network("Conv-6"),
    "resnet18": Network("ResNet-18", batch_norm=True),
    "vgg19": Network("VGG-19", batch_norm=True),
    "resnet8_w8": Network("ResNet-8 (width 8)", batch_norm=True),
    "vgg6_w8": Network("VGG-6 (width 8)", batch_norm=True),
}

DATASETS: dict[str, DataSet] = {
    "mnist": DataSet("MNIST", torchvision="MNIST"),
    "fashion_mnist": DataSet("Fashion-MNIST", torchvision="FashionMNIST"),
    "cifar10": DataSet("CIFAR-10", torchvision="CIFAR10"),
    "synthetic": DataSet("synthetic data"),
}

METHODS: dict[str, Method] = {
    "gaussian": Method("Gaussian gates", "gates", "binary mask 1[μ > 0]: gates open with probability Φ(μ/σ) > 1/2"),
    "hard_concrete": Method("Hard-concrete gates", "gates",
                            "binary mask 1[log α > β·log(−γ/ζ)]: gates open with probability > 1/2"),
    "cs": Method("Continuous sparsification", "gates", "binary mask 1[s > 0] after the last round"),
    "snip": Method("SNIP", "init",
                   "keep the highest |∂L/∂w ⊙ w| on one batch of training examples (Lee et al. 2019)"),
    "grasp": Method("GraSP", "init",
                    "keep the highest w ⊙ Hg (remove the highest −w ⊙ Hg) with logits / T (Wang et al. 2020)"),
    "synflow": Method("SynFlow", "init",
                      "keep the highest |∂R/∂w ⊙ w|, R = 1ᵀ(∏|W|)1 on an all-ones input, no data; pruned over "
                      "rounds to an exponentially shrinking fraction (Tanaka et al. 2020)"),
}

BATCH_NORM_MODELS = tuple(name for name, net in MODELS.items() if net.batch_norm)

# Networks and data sets named by a form rather than listed: the prefix and what follows it.
MODEL_FORMS = {
    "torchvision:": "torchvision:NAME (a torchvision classification model, e.g. torchvision:resnet18; num_classes "
                    "from the data set)",
    "module:": "module:CLASS-ID (a torch.nn.Module given to lth.find_tickets in Python)",
}
DATA_FORMS = {
    "npz:": "npz:PATH (an .npz of uint8 images x_train, x_test, (N, H, W) or (N, H, W, C), and labels y_train, "
            "y_test)",
    "folder:": "folder:PATH (PATH/train and PATH/test, each a folder of images per class, as torchvision's "
               "ImageFolder reads them)",
    "tensors:": "tensors:ID (tensors given to lth.find_tickets in Python)",
}


def form(name: str, forms: dict[str, str]) -> str | None:
    """The prefix of `forms` that `name` is written in ("torchvision:"), if any and something follows it."""
    return next((p for p in forms if name.startswith(p) and len(name) > len(p)), None)


def methods(sweep_kind: str) -> tuple[str, ...]:
    """The methods one kind of sweep runs ("gates" or "init"), in registry order."""
    return tuple(name for name, m in METHODS.items() if m.sweep_kind == sweep_kind)


def model_name(name: str) -> str:
    """A network's display name ("LeNet-300-100", "resnet18 (torchvision)", "MLP (your module)"); an unknown one as
    it is spelled."""
    if name.startswith("torchvision:"):
        return f"{name.removeprefix('torchvision:')} (torchvision)"
    if name.startswith("module:"):
        return f"{name.removeprefix('module:').rsplit('-', 1)[0]} (your module)"
    return MODELS[name].display if name in MODELS else name


def dataset_name(name: str) -> str:
    """A data set's display name ("Fashion-MNIST", "pets.npz", "your tensors"); an unknown one as it is spelled."""
    if form(name, DATA_FORMS) in ("npz:", "folder:"):
        return name.split(":", 1)[1].rstrip("/").rsplit("/", 1)[-1]
    if name.startswith("tensors:"):
        return "your tensors"
    return DATASETS[name].display if name in DATASETS else name


def method_name(name: str) -> str:
    """A sweep method's display name ("Gaussian gates", "SNIP"); an unknown one as it is spelled."""
    return METHODS[name].display if name in METHODS else name
