"""Machine-readable renderings of a diagnosis: json, markdown, github, junit, sarif."""
