"""nnfix's own NumPy engine: dense layers, losses, initialisers, optimisers, schedules."""
