"""`nnfix init`: starter specs, and specs read off the user's own code (`--from`)."""
