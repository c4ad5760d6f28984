"""Networks shared by every method: MLPs with optional time input."""

from pushforward.nets.mlp import ACTIVATIONS, MLP, NetConfig, TimeEmbedding, init_weights

__all__ = ["MLP", "ACTIVATIONS", "NetConfig", "TimeEmbedding", "init_weights"]
