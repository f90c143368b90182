"""The daemon's own network plumbing: the HTTP/1.1 transport under its httpx clients
(`http1`) and the one TLS context they and the Realtime socket share (`tls`)."""
