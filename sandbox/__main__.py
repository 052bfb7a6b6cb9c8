"""`python -m sandbox` runs the rdsbox CLI."""

from sandbox.cli.app import main

main()
