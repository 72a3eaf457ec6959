"""Command groups of the `printfarm` command line (see tools.cli.COMMAND_GROUPS)."""
