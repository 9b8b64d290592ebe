"""`python -m controller` runs the relctl command line."""

from controller.cli import main

main()
