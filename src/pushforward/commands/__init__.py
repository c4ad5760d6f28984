"""Extra subcommands of `pushforward`, one module each.

Each module here defines `register(subparsers) -> None`, which adds its subparser and sets
`func` (a callable taking the parsed `argparse.Namespace` and returning an exit status).
`pushforward.cli.parser` imports every module of this package, so a new command is one file.
"""
