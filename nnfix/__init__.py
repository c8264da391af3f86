"""nnfix: a command-line backprop debugger for neural networks written from scratch."""

TYPE_CHECKING = False  # `typing` is not imported: every start of the command line pays for it
__version__ = "0.1.0"
__all__ = ["GradcheckResult", "__version__", "assert_gradients", "gradcheck"]

if TYPE_CHECKING:  # what type checkers see; at run time they load on first use (below)
    from nnfix.diagnose.gradcheck import GradcheckResult, assert_gradients, gradcheck


def __getattr__(name: str):
    # the gradient check imports NumPy: load it on first use, so `nnfix --version` stays fast
    if name in ("gradcheck", "assert_gradients", "GradcheckResult"):
        from nnfix.diagnose import gradcheck as module

        return getattr(module, name)
    raise AttributeError(f"module 'nnfix' has no attribute {name!r}")
