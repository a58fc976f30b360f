"""Subcommands of the `handseg` CLI: argument parsing only; the work lives in the package's modules."""

# Import rule: `handseg --help` and a usage error import every module here (handseg.cli.build_parser), so a command
# module imports at module level only the standard library, handseg.commands.options and the light modules --help
# loads anyway (handseg.errors, handseg.loading, handseg.data.readers). Everything else (torch, the engine, export,
# ...) is imported inside run() or the helpers it calls. tests/test_cli.py checks that --help imports no torch.
