"""MCP (Model Context Protocol) client: a sans-I/O session core, HTTP and stdio transports."""
