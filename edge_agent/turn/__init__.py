"""The turn core: every rule of a turn, sans-I/O (events in, actions out, time as an argument).

`TurnCore` (core.py) owns the state machine (the table in `edge_agent.states`), the replies
(responses, items, audio received vs heard, tool calls: replies.py), the session policy (idle
close, rotation: session.py) and the turn records (turnlog.py). The shells in
`edge_agent.pipeline` feed it events (events.py) and carry out its actions (actions.py); the
speech backend (`edge_agent.realtime`) translates its wire events into these events, so the core
never sees a Realtime event name.
"""
