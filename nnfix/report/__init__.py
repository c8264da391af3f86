"""Everything nnfix shows a person: errors, progress, summaries and reports."""
