"""Subcommands of the `edge-agent` CLI, one module per area; see `edge_agent.cli`."""
