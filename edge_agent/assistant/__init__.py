"""Everyday assistant features: the home's clock and place, timers and alarms, the volume.

`assembly.build_assistant` builds them from the config; `assembly.Assistant` is both the source
of their tools (registered in `edge_agent.tools.home.build_registry`) and an App component
(resolves the home location, loads the volume, runs the timer scheduler). Pure parts:
`clock`, `timeparse`, `timers`, `volume.next_volume`, `ringing`; shells: `store`, `service`,
`scheduler`, `home`.
"""
