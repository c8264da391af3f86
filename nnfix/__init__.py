"""nnfix: a command-line backprop debugger for neural networks written from scratch."""

__version__ = "0.1.0"
