"""Frozen feature encoders for feature-space drifting: an MLP classifier or autoencoder.

The drifting authors compute the drift not on raw pixels but in the feature space of a frozen
encoder, at several layers ("scales") at once: for each scale l the generated features φ_l(x)
are regressed onto φ_l(x) + V_l, with V_l the drift field among the features of generated
samples and data, and gradients flow through the frozen φ into the generator. Here φ is an
MLP trunk `d → widths[0] → … → widths[-1]` (SiLU after every layer) trained once, before the
generator, by one of

* "classifier": the trunk plus a linear head, cross-entropy on labelled images `[N, d]`, `[N]`;
* "autoencoder": the trunk plus a mirrored decoder, squared error on `[N, d]` (no labels),

for a fixed number of Adam steps on minibatches drawn with a `torch.Generator`, so a seed fixes
the encoder. `FeatureEncoder` then exposes the chosen hidden layers (1-based) and, optionally,
the raw input as one more scale; its weights are frozen (`requires_grad = False`).

References:
    Deng, Li, Li, Du, He (2026). Generative Modeling via Drifting. arXiv:2602.04770.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.rand(100, 16, generator=g), torch.randint(3, (100,), generator=g)
    >>> model = train_encoder("classifier", x, y, [32, 8], steps=5, generator=g)
    >>> phi = FeatureEncoder(model.trunk, layers=[2], pixels=True)
    >>> [f.shape for f in phi(x[:4])], phi.names
    ([torch.Size([4, 16]), torch.Size([4, 8])], ['pixels', 'layer2'])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pushforward.nets.mlp import init_weights

__all__ = [
    "ENCODERS",
    "Trunk",
    "Classifier",
    "Autoencoder",
    "FeatureEncoder",
    "train_encoder",
    "check_layers",
]

ENCODERS = ("none", "classifier", "autoencoder")
LR = 1e-3
BATCH_SIZE = 256


def _linear(a: int, b: int, generator: torch.Generator) -> nn.Linear:
    """nn.Linear(a, b) initialised uniform ±1/√a from `generator` (PyTorch's default law)."""
    layer = nn.Linear(a, b)
    init_weights(layer, generator)
    return layer


class Trunk(nn.Module):
    """Hidden layers `x [n, d] → h_1 [n, w_1] → … → h_K [n, w_K]`, SiLU after each."""

    def __init__(self, d: int, widths: Sequence[int], generator: torch.Generator) -> None:
        super().__init__()
        sizes = [d, *widths]
        self.linears = nn.ModuleList(
            _linear(a, b, generator) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.act = nn.SiLU()

    def hidden(self, x: Tensor) -> list[Tensor]:
        """Every hidden activation `[n, w_k]`, k = 1..K."""
        out = []
        for linear in self.linears:
            x = self.act(linear(x))
            out.append(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """The last hidden activation `[n, w_K]`."""
        return self.hidden(x)[-1]


class Classifier(nn.Module):
    """Trunk plus a linear head: logits `[n, classes]` of `x [n, d]`."""

    def __init__(
        self, d: int, widths: Sequence[int], classes: int, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.trunk = Trunk(d, widths, generator)
        self.head = _linear(widths[-1], classes, generator)

    def forward(self, x: Tensor) -> Tensor:
        """Logits `[n, classes]`."""
        return self.head(self.trunk(x))


class Autoencoder(nn.Module):
    """Trunk plus a mirrored decoder: reconstruction `[n, d]` of `x [n, d]`."""

    def __init__(self, d: int, widths: Sequence[int], generator: torch.Generator) -> None:
        super().__init__()
        self.trunk = Trunk(d, widths, generator)
        back = [*reversed(widths[:-1])]
        self.decoder = (
            nn.Sequential(Trunk(widths[-1], back, generator), _linear(back[-1], d, generator))
            if back
            else _linear(widths[-1], d, generator)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction `[n, d]`."""
        return self.decoder(self.trunk(x))


def train_encoder(
    kind: str,
    images: Tensor,
    labels: Tensor | None,
    widths: Sequence[int],
    steps: int,
    generator: torch.Generator,
) -> Classifier | Autoencoder:
    """A classifier (needs `labels [N]`) or autoencoder trained on `images [N, d]`.

    `steps` Adam steps (lr 1e-3) on minibatches of 256 rows drawn with replacement from
    `generator`, which also draws the initial weights: the same seed gives the same weights.
    Returns the whole model in eval mode; its `trunk` is the feature encoder.
    """
    if kind == "classifier":
        if labels is None:
            raise ValueError("a classifier encoder needs labels")
        model: Classifier | Autoencoder = Classifier(
            images.shape[1], widths, int(labels.max()) + 1, generator
        )
    elif kind == "autoencoder":
        model = Autoencoder(images.shape[1], widths, generator)
    else:
        raise ValueError(f"encoder kind {kind!r}: choose 'classifier' or 'autoencoder'")
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    with torch.enable_grad():
        for _ in range(steps):
            idx = torch.randint(len(images), (BATCH_SIZE,), generator=generator)
            x = images[idx]
            if isinstance(model, Classifier):
                loss = nn.functional.cross_entropy(model(x), labels[idx])
            else:
                loss = (model(x) - x).square().sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


def check_layers(layers: Sequence[int], widths: Sequence[int], pixels: bool) -> None:
    """Raise ValueError unless `layers` are distinct hidden layers 1..len(widths) and some
    scale (a layer or the pixels) is chosen."""
    k = len(widths)
    if not widths or min(widths) < 1:
        raise ValueError(f"method.features_widths must be widths >= 1, got {list(widths)}")
    if any(not 1 <= layer <= k for layer in layers) or len(set(layers)) != len(layers):
        raise ValueError(
            f"method.features_layers names distinct hidden layers 1..{k} of "
            f"method.features_widths = {list(widths)}, got {list(layers)}"
        )
    if not layers and not pixels:
        raise ValueError(
            "feature drifting needs at least one scale: set method.features_layers "
            "(e.g. [1, 2]) or method.features_pixels = true"
        )


class FeatureEncoder(nn.Module):
    """Frozen φ: `x [n, d]` → the scales `[x if pixels] + [h_l [n, w_l] for l in layers]`."""

    def __init__(self, trunk: Trunk, layers: Sequence[int], pixels: bool) -> None:
        super().__init__()
        widths = [linear.out_features for linear in trunk.linears]
        check_layers(layers, widths, pixels)
        self.trunk, self.layers, self.pixels = trunk, list(layers), pixels
        for p in self.trunk.parameters():  # frozen, and without the training's last gradients
            p.requires_grad_(False)
            p.grad = None
        self.names = (["pixels"] if pixels else []) + [f"layer{layer}" for layer in self.layers]

    def forward(self, x: Tensor) -> list[Tensor]:
        """The scales of `x [n, d]` in the order of `names` (differentiable in x)."""
        hidden = self.trunk.hidden(x) if self.layers else []
        return ([x] if self.pixels else []) + [hidden[layer - 1] for layer in self.layers]
