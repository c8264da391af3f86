"""Layer types, one module each, registered once in LAYERS below (the spec's layers are dense)."""

from nnfix.engine.layers import dense
from nnfix.engine.layers.dense import Dense
from nnfix.engine.layers.layer import Layer, LayerActivation, Slot

__all__ = ["LAYERS", "Dense", "Layer", "LayerActivation", "Slot"]

LAYERS: dict[str, type[Layer]] = {"dense": dense.Dense}
