"""The user's own forward/backward code (SPEC §3), presented to nnfix's checks and training."""
