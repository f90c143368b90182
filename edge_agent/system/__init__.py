"""Talking to the host: journald logging and systemd supervision."""
