"""The one MLP builder of the neural models (autoencoders, VAE, GAN generators and discriminators)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

ActivationName = Literal["relu", "tanh", "leaky_relu"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}


def activation(name: ActivationName) -> nn.Module:
    """A fresh activation module by name (LeakyReLU with slope 0.2, as in DCGAN)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: valid values are {', '.join(ACTIVATIONS)}")
    return nn.LeakyReLU(0.2) if name == "leaky_relu" else ACTIVATIONS[name]()


def mlp(sizes: Sequence[int], act: ActivationName, *, last_activation: bool = False,
        batch_norm: bool = False, dropout: float = 0.0, spectral_norm: bool = False) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` (x: (..., sizes[0]) -> (..., sizes[-1])).

    Each hidden layer is Linear [→ BatchNorm1d] → activation [→ Dropout]; the last Linear has no
    activation unless ``last_activation`` (then it is followed by the activation alone).
    ``spectral_norm`` divides every weight by its largest singular value (Miyato et al. 2018).
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {list(sizes)}")
    layers: list[nn.Module] = []
    n_linear = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(a, b)
        layers.append(nn.utils.parametrizations.spectral_norm(lin) if spectral_norm else lin)
        if i < n_linear - 1:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        elif last_activation:
            layers.append(activation(act))
    return nn.Sequential(*layers)
