"""`edge-agent relay`: the home relay that holds the one OpenAI key and mints client secrets.

Satellites (edge-agent daemons with `realtime.token_url`) ask it for a short-lived `ek_`
secret before each connect, authenticated by their own token; it pins the session config,
enforces per-satellite and household budgets and a rate limit, and never gives out the key.

Modules: `settings` (the relay.toml file), `tokens` (satellite tokens, hashed), `ledger` and
`policy` (budgets and rate limits, pure), `store` (the state files), `httpserver` (asyncio +
h11), `upstream` (the mint at OpenAI), `service` (routes and logs), `report` (the daemon's
usage-report client). docs/relay.md tells how to run it.
"""
