"""The OpenAI Realtime API (GA) conversation engine: wire format, turn rules, connection."""
