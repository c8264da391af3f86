"""Running a spec: preparing data and network from it, training, and the run directory."""
