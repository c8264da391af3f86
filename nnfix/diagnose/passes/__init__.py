"""The passes of `nnfix diagnose`, in the order SPEC §4 runs them."""

from nnfix.diagnose.passes import (
    derivatives,
    dynamics,
    gradients,
    implementation,
    init_stats,
    static,
)
from nnfix.diagnose.pipeline import Pass

PASSES = [
    Pass(
        "static",
        ("D101", "D102", "D103", "D104", "D105", "Y101", "Y104", "T105"),
        (
            static.non_finite_data,
            static.unscaled_inputs,
            static.label_output_mismatch,
            static.output_loss_mismatch,
            static.class_imbalance,
            static.symmetric_init,
            static.one_signed_init,
            static.lr_decays_too_fast,
        ),
    ),
    Pass(
        "derivatives",
        ("A101", "A102", "A103", "G102"),
        (derivatives.activation_derivatives, derivatives.loss_gradient),
    ),
    Pass("gradient check", ("G101", "G104"), (gradients.gradient_check, gradients.user_precision)),
    Pass(
        "your code",
        ("U101", "U102", "G103", "G101", "G104"),
        (implementation.user_forward, implementation.user_gradients),
    ),
    Pass("init statistics", ("Y103", "T101"), (init_stats.init_scale, init_stats.loss_at_init)),
    Pass(
        "training probe",
        ("T102", "T103", "T104", "T107", "T108", "M101", "M102", "M103", "M104", "Y102"),
        (
            dynamics.divergence,
            dynamics.loss_rising,
            dynamics.gradient_magnitudes,
            dynamics.update_ratios,
            dynamics.dead_relu,
            dynamics.saturated_units,
            dynamics.units_identical,
            dynamics.plateau_at_prior,
        ),
        probe=True,
    ),
    Pass("overfit probe", ("T106",), (dynamics.cannot_overfit,), probe=True),
]
