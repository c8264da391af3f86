"""The passes of `nnfix diagnose`, in the order SPEC §4 runs them."""

from nnfix.diagnose.passes import derivatives, gradients, init_stats, static
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
    Pass("init statistics", ("Y103", "T101"), (init_stats.init_scale, init_stats.loss_at_init)),
]
