"""python -m cnnlib: train a network from the command line (see cnnlib.cli)."""
from .cli import main

main()
