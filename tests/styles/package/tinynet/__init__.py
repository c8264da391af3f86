"""tinynet: my tiny numpy deep learning library (layers, losses, a model)."""

from .model import Model

__all__ = ["Model"]
