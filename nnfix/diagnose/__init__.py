"""`nnfix diagnose`: findings, the rule catalog, and the passes that produce them."""
