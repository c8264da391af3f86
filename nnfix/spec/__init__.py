"""The spec: YAML with positions, its pydantic model, `--set`, expressions and user files."""
