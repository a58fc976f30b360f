"""Subcommands of the `handseg` CLI: argument parsing only; the work lives in the package's modules."""
