"""The user's own code: loading it, running it contained, and finding its parameters and gradients."""
