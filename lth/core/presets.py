"""Presets: the paper's hyperparameters (../shared/PAPER.md) by name, and runs cut down to fit a CPU.

Importable from config too (`config.preset`), as they always were.
"""

from __future__ import annotations

from .config import (
    Config,
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    PruningConfig,
    TrainingConfig,
)

# --- presets: the paper's hyperparameters (../shared/PAPER.md, Figure 2) -------------

_CONV_RATES = dict(rate_conv=0.1, rate_fc=0.2, rate_output=0.1)
# Section 5 (PAPER.md, "Deeper networks"): momentum SGD with weight decay 1e-4 and two drops of the rate (x0.1),
# augmentation, and 20% of the convolutions' surviving weights pruned per level in one global ranking
# (ResNet's 1x1 shortcuts and both nets' output layers unpruned). VGG-19: 160 epochs of 703 batches of 64,
# drops at epochs 80 and 120. Each net at the rate where it finds no tickets (0.1), a low rate, and with warmup.
_DEEP = {"resnet18": dict(iterations=30_000, batch_size=128, lr_drops="20000,25000"),
         "vgg19": dict(iterations=112_480, batch_size=64, lr_drops="56240,84360")}
_DEEP_VARIANTS = {"resnet18": (("", 0.1, 0), ("-low", 0.01, 0), ("-warmup", 0.03, 20_000)),
                  "vgg19": (("", 0.1, 0), ("-low", 0.01, 0), ("-warmup", 0.1, 10_000))}


def _deep(net: str, lr: float, warmup: int) -> Config:
    return Config(data=DataConfig(dataset="cifar10"), model=ModelConfig(model=net),
                  training=TrainingConfig(optimizer="sgd", lr=lr, warmup=warmup, weight_decay=1e-4, augment=True,
                                          **_DEEP[net]),
                  pruning=PruningConfig(strategy="global", rate_global=0.2, global_layers="conv"))


PRESETS: dict[str, Config] = {
    "lenet-mnist": Config(),
    "lenet-fashion": Config(data=DataConfig(dataset="fashion_mnist")),
    "conv2-cifar10": Config(
        data=DataConfig(dataset="cifar10"), model=ModelConfig(model="conv2"),
        training=TrainingConfig(lr=2e-4, iterations=20_000), pruning=PruningConfig(**_CONV_RATES)),
    "conv4-cifar10": Config(
        data=DataConfig(dataset="cifar10"), model=ModelConfig(model="conv4"),
        training=TrainingConfig(lr=3e-4, iterations=25_000), pruning=PruningConfig(**_CONV_RATES)),
    "conv6-cifar10": Config(
        data=DataConfig(dataset="cifar10"), model=ModelConfig(model="conv6"),
        training=TrainingConfig(lr=3e-4, iterations=30_000),
        pruning=PruningConfig(rate_conv=0.15, rate_fc=0.2, rate_output=0.1)),
    **{f"{net}-cifar10{variant}": _deep(net, lr, warmup)
       for net in ("resnet18", "vgg19") for variant, lr, warmup in _DEEP_VARIANTS[net]},
    # Conv-2 on Fashion-MNIST's 28x28x1 images, cut to fit a 2-core CPU (about 8 training iterations a second
    # there, and 17 s to evaluate 15,000 images): 1,500 iterations a level instead of 20,000, evaluation every
    # 250, pruning rates doubled so 6 levels reach 5% of the fc weights, 1 trial. The label says so on every chart.
    "conv2-fashion-reduced": Config(
        data=DataConfig(dataset="fashion_mnist"), model=ModelConfig(model="conv2"),
        training=TrainingConfig(lr=2e-4, iterations=1_500, eval_every=250),
        pruning=PruningConfig(rate_conv=0.2, rate_fc=0.4, rate_output=0.2),
        experiment=ExperimentConfig(levels=6, label="REDUCED protocol: 1,500 iterations a level (paper 20,000), "
                                                    "pruning rates doubled, 1 trial")),
    # Section 5's question (does rewinding to θ0 fail at a high learning rate, and rewinding to an early
    # iteration k work?) cut to fit a 2-core CPU in under 2 hours for both rewind points: ResNet-8 of width 8
    # (19k weights) on Fashion-MNIST, momentum SGD at the high rate 0.1 with two drops, 2,000 iterations a
    # level, 36% of the convolutions' weights pruned a level (two of the paper's levels at a time).
    "resnet8-fashion-reduced": Config(
        data=DataConfig(dataset="fashion_mnist"), model=ModelConfig(model="resnet8_w8"),
        training=TrainingConfig(optimizer="sgd", lr=0.1, weight_decay=1e-4, augment=True, batch_size=128,
                                iterations=2_000, lr_drops="1000,1500", eval_every=200, test_every=1000,
                                train_eval_examples=5000),
        pruning=PruningConfig(strategy="global", rate_global=0.36, global_layers="conv"),
        experiment=ExperimentConfig(levels=5, one_shot=False, label=(
            "REDUCED protocol: ResNet-8 of width 8 on Fashion-MNIST (paper: ResNet-18, width 16, CIFAR-10), "
            "2,000 iterations a level (paper 30,000), 36% of conv weights pruned a level (paper 20%), 1 trial"))),
    # Network slimming's structured tickets beside IMP's unstructured one, cut to fit a 2-core CPU: a VGG of six
    # convs of width 8-32 on Fashion-MNIST with the ResNet run's training. Each level removes 20% of the channels
    # left (about 36% of the weights) and IMP prunes 36% of the conv weights, so both reach similar sparsity level
    # by level. λ is 10x the authors' VGG value (1e-4) because a level trains ~60x fewer steps than their 160 epochs.
    "vgg6-slim-fashion-reduced": Config(
        data=DataConfig(dataset="fashion_mnist"), model=ModelConfig(model="vgg6_w8"),
        training=TrainingConfig(optimizer="sgd", lr=0.1, weight_decay=1e-4, augment=True, batch_size=128,
                                iterations=2_000, lr_drops="1000,1500", eval_every=200, test_every=1000,
                                train_eval_examples=5000),
        pruning=PruningConfig(strategy="global", rate_global=0.36, global_layers="conv", slim_rate=0.2,
                              slim_l1=1e-3),
        experiment=ExperimentConfig(levels=5, one_shot=False, random_prune=0, slimming=True, label=(
            "REDUCED protocol: VGG-6 of width 8 on Fashion-MNIST (slimming paper: VGG-19 on CIFAR-10), 2,000 "
            "iterations a level (paper 160 epochs), 20% of channels removed a level, λ 1e-3 (paper 1e-4), 1 trial"))),
    # IMP live in class: 10 levels of the ticket and its two controls on real MNIST in about 15 s on a 2-core CPU
    # (`lth bench` measures it). Only the amount of work is cut; the label says how, on every chart.
    "lenet-mnist-live": Config(
        data=DataConfig(validation_size=1000),
        training=TrainingConfig(iterations=300, eval_every=100, test_every=300, train_eval_examples=5000),
        experiment=ExperimentConfig(levels=10, one_shot=False, label=(
            "LIVE protocol: 300 iterations a level (paper 50,000), validation on 1,000 examples (paper 5,000), "
            "test curve at the end only, train accuracy on 5,000 examples, 1 trial"))),
    # Tiny and learnable in seconds on a CPU: for tests, demos and the live lab.
    "synthetic": Config(
        data=DataConfig(dataset="synthetic", validation_size=200),
        training=TrainingConfig(iterations=300, eval_every=50),
        experiment=ExperimentConfig(levels=3)),
}


def preset(name: str) -> Config:
    """A preset's config by name; ConfigError listing the presets for an unknown one."""
    if name not in PRESETS:
        raise ConfigError(f"--preset={name!r} is not allowed: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
