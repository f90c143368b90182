"""The speaker as a device in Home Assistant over MQTT discovery (docs/mqtt.md).

Pure parts: `topics` (where everything lives), `discovery` (Home Assistant's config payloads),
`values` (the daemon's state as published values), `commands` (command-topic payloads checked
like tool arguments, the announcement rate limit), `verdict` (the doctor's lines). Shells:
`bridge` (the App component: connect, publish, subscribe, post core events), `forget` (clear
the retained topics), `record` (what was announced where, for clearing it later).
"""
