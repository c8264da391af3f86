"""Data for training: generated toy sets and files, split, scaled, and targets encoded."""

from nnfix.data.dataset import Dataset, encode_targets, load_dataset

__all__ = ["Dataset", "encode_targets", "load_dataset"]
