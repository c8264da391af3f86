"""`nnfix fix`: the fixes that findings carry, made in the spec's text and the user's lines, and
proved by diagnosing (and training) the result."""
