"""pushforward: learn maps that push one distribution onto another, and see why they fail."""

__version__ = "0.1.0"
