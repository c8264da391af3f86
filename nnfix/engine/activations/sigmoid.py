"""Sigmoid: 1 / (1 + e^-z), in (0, 1); flat beyond |z| > 4 (σ'(4) = 0.018)."""

from nnfix.engine.activations.activation import Activation, logistic


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="sigmoid",
        fn=logistic,
        dz=lambda z: logistic(z) * (1 - logistic(z)),
        da=lambda a: a * (1 - a),
        text_z="sigmoid(z) * (1 - sigmoid(z))",
        text_a="a * (1 - a)",
        output_range=(0.0, 1.0),
        init="xavier_normal",
        saturates_beyond=4.0,
    )
