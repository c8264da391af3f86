"""`python -m nnfix` runs the command line."""

from nnfix.cli import main

main()
