"""Outside systems that bring tools: Home Assistant (over MCP), MCP servers."""
