"""The turn core, h11-style: literal event sequences in, the whole list of actions out."""

from __future__ import annotations

import json

from edge_agent.states import (
    BeginTurn,
    Cancel,
    EndTurn,
    MuteToggle,
    PlayEarcon,
    State,
    StopPlayback,
    TalkPressed,
    WakeDetected,
)
from edge_agent.turn.actions import (
    AddNote,
    AwaitPlayout,
    CancelReply,
    CancelTools,
    ClearInput,
    CloseSession,
    Connect,
    FailFatal,
    Log,
    PlayReply,
    RecordUsage,
    RequestReply,
    RunTool,
    SendToolOutput,
    SetTranscription,
    ShowBudget,
    StateChanged,
    StopStream,
    StreamFrom,
    Truncate,
    UserSaid,
    UserTurnStarted,
)
from edge_agent.turn.core import TurnCore, TurnPolicy
from edge_agent.turn.events import (
    BudgetChanged,
    Heard,
    PlayedOut,
    ReplyAudio,
    ResponseFinished,
    ResponseRejected,
    ResponseStarted,
    SessionFatal,
    SessionLost,
    SessionReady,
    Tick,
    ToolCallRequested,
    ToolResult,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)

S = State
PCM_100MS = bytes(4800)  # 100 ms of 24 kHz int16


def core(**policy: object) -> TurnCore:
    ids = iter(f"t{i}" for i in range(1, 100))
    return TurnCore(TurnPolicy(**policy), turn_ids=lambda: next(ids))  # type: ignore[arg-type]


def without_logs(actions: list) -> list:
    return [a for a in actions if not isinstance(a, Log)]


def logs(actions: list) -> list[Log]:
    return [a for a in actions if isinstance(a, Log)]


def wake(c: TurnCore, now: int = 0, stream_from: int | None = 1000) -> list:
    return c.handle(WakeDetected("hey_jarvis", 0.9, 5800, stream_from), now)


def played_out(c: TurnCore, out: list, now: int) -> list:
    """Report the playout the core asked for in `out`."""
    [token] = [a.token for a in out if isinstance(a, AwaitPlayout)]
    return c.handle(PlayedOut(token), now)


def ready_turn(c: TurnCore) -> None:
    """A wake, a ready session, a question: the core is thinking."""
    wake(c)
    c.handle(SessionReady("sess"), 100)
    c.handle(UserSpeechStarted(), 500)
    c.handle(UserSpeechStopped(), 2000)


# -- starting a turn ------------------------------------------------------------------------------
def test_wake_connects_and_streams_from_the_wake_words_end() -> None:
    c = core()
    assert wake(c) == [
        StateChanged(S.IDLE, S.LISTENING, "t1"),
        PlayEarcon("wake"),
        BeginTurn("wake"),
        Connect(),
        StreamFrom(1000),
    ]
    assert c.turn_id == "t1" and c.turns.current is not None


def test_talk_button_streams_from_now_on() -> None:
    c = core()
    assert c.handle(TalkPressed(), 0)[-1] == StreamFrom(None)


def test_no_speech_timer_counts_from_when_the_session_can_hear() -> None:
    c = core(no_speech_timeout_s=8.0, connect_timeout_s=10.0)
    wake(c, now=0)
    assert c.next_deadline_ms() == 11_000  # the fallback: only if the session never comes
    assert c.handle(SessionReady("s"), 9_000) == []  # a slow connect: 9 s
    assert c.next_deadline_ms() == 17_000  # 8 s from the session being ready
    assert c.handle(Tick(), 16_999) == []
    out = c.handle(Tick(), 17_000)
    assert without_logs(out) == [
        StateChanged(S.LISTENING, S.IDLE, "t1"),
        StopStream(clear_input=True),
        EndTurn("no_speech"),
        PlayEarcon("done"),
    ]


def test_a_session_that_never_comes_still_ends_the_turn() -> None:
    c = core(no_speech_timeout_s=8.0, connect_timeout_s=10.0)
    wake(c)
    assert c.handle(Tick(), 11_000) == []  # the fallback: now the 8 s count
    assert c.next_deadline_ms() == 19_000
    assert c.handle(Tick(), 19_000)[0] == StateChanged(S.LISTENING, S.IDLE, "t1")


def test_warm_session_counts_at_once_and_needs_no_connect() -> None:
    c = core(no_speech_timeout_s=8.0, follow_up_s=0.0)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    played_out(c, c.handle(ResponseFinished("r1"), 2200), 2300)
    assert c.state is S.IDLE
    out = wake(c, now=3000)
    assert Connect() not in out
    assert c.next_deadline_ms() == 11_000


# -- a reply -------------------------------------------------------------------------------------
def test_speech_reply_and_done_after_playout() -> None:
    c = core(follow_up_s=5.0)
    wake(c)
    c.handle(SessionReady("s"), 100)
    assert c.handle(UserSpeechStarted(), 500) == [UserTurnStarted()]
    assert c.handle(UserSpeechStopped(), 2000) == [
        StateChanged(S.LISTENING, S.THINKING, "t1"),
        StopStream(clear_input=False),
    ]
    assert c.handle(ResponseStarted("r1"), 2100) == []
    assert c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2300) == [
        PlayReply("i1", PCM_100MS),
        StateChanged(S.THINKING, S.SPEAKING, "t1"),
    ]
    assert c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2310) == [PlayReply("i1", PCM_100MS)]
    usage = object()
    done = c.handle(ResponseFinished("r1", usage=usage), 2400)
    [token] = [a.token for a in done if isinstance(a, AwaitPlayout)]
    assert done == [RecordUsage("t1", usage, "", "r1"), AwaitPlayout(token)]
    assert c.handle(PlayedOut(token - 1), 2500) == []  # a stale playout
    out = c.handle(PlayedOut(token), 2600)
    assert without_logs(out) == [
        StateChanged(S.SPEAKING, S.LISTENING, "t2"),
        EndTurn("completed"),
        BeginTurn("follow_up"),
        StreamFrom(None),
    ]
    [summary] = logs(out)
    assert summary.fields["OUTCOME"] == "completed"
    assert summary.fields["REPLY_MS"] == 200  # played (all of it)
    assert summary.fields["LATENCY_MS"] == 300  # end of speech -> first reply audio


def test_reply_ms_is_what_was_heard_not_received() -> None:
    c = core(follow_up_s=0.0)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    for t in range(10):  # 1 s received
        c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200 + t)
    c.handle(Heard((("i1", 24 * 250),)), 2500)
    out = c.handle(WakeDetected("hey_jarvis", 0.8, 99_000, 98_000), 2600)
    [summary] = [a for a in logs(out) if "OUTCOME" in a.fields]
    assert summary.fields["REPLY_MS"] == 250 and summary.fields["OUTCOME"] == "barge_in"


def test_no_audio_reply_is_done_without_speaking() -> None:
    c = core(follow_up_s=0.0)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    done = c.handle(ResponseFinished("r1"), 2200)
    assert len(done) == 1 and isinstance(done[0], AwaitPlayout)
    assert without_logs(played_out(c, done, 2300)) == [
        StateChanged(S.THINKING, S.IDLE, "t1"),
        StopStream(clear_input=True),
        EndTurn("completed"),
        PlayEarcon("done"),
    ]


def test_a_failed_response_ends_the_turn_as_an_error() -> None:
    c = core(follow_up_s=5.0)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200)
    failed = ResponseFinished(
        "r1", "failed", "server_error", "server_error", "server_error", "The server had an error."
    )
    out = c.handle(failed, 2300)
    warning, summary = logs(out)
    assert warning.level == "warning" and warning.fields["ERROR_CODE"] == "server_error"
    assert warning.message == "reply failed: server_error server_error: The server had an error."
    assert summary.fields["OUTCOME"] == "error"
    assert without_logs(out) == [
        StateChanged(S.SPEAKING, S.IDLE, "t1"),
        StopStream(clear_input=True),
        StopPlayback(),
        ClearInput(),
        EndTurn("error"),
        PlayEarcon("error"),
    ]  # no follow-up window; nothing to cancel (the response is over)
    assert c.next_deadline_ms() is not None  # idle close still scheduled


def test_an_incomplete_response_plays_what_arrived_and_says_so() -> None:
    c = core(follow_up_s=0.0)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200)
    out = c.handle(ResponseFinished("r1", "incomplete", "max_output_tokens"), 2300)
    assert out[0] == Log(
        "warning",
        "reply incomplete (max_output_tokens): playing what arrived",
        {"ERROR_CODE": "max_output_tokens"},
    )
    assert len(out) == 2 and isinstance(out[1], AwaitPlayout)  # then done, as completed


# -- tools ---------------------------------------------------------------------------------------
def test_tool_calls_hold_the_input_then_one_request_after_all_outputs() -> None:
    c = core(duplex="full", tool_budget_ms=8000)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    assert c.handle(ToolCallRequested("r1", "c1", "get_weather", '{"location":"Paris"}'), 2200) == [
        RunTool("c1", "get_weather", '{"location":"Paris"}', "t1"),
        ClearInput(),
        StopStream(clear_input=False),  # full duplex streams while thinking: held now
    ]
    assert c.handle(ToolCallRequested("r1", "c2", "get_weather", "{}"), 2210) == [
        RunTool("c2", "get_weather", "{}", "t1")
    ]
    assert c.handle(ResponseFinished("r1"), 2300) == []
    assert c.handle(ToolResult("c2", "get_weather", '{"ok":true}'), 2400) == [
        SendToolOutput("c2", '{"ok":true}')
    ]
    assert c.handle(ToolResult("c1", "get_weather", '{"ok":true}'), 2500) == [
        SendToolOutput("c1", '{"ok":true}'),
        RequestReply(),
        StreamFrom(None),  # released
    ]
    assert c.handle(ResponseRejected(), 2510) == []  # raced a VAD response
    c.handle(ResponseStarted("r0"), 2520)
    assert c.handle(ResponseFinished("r0"), 2600) == [RequestReply()]
    assert [t.name for t in c.turns.current.tools] == ["get_weather", "get_weather"]  # type: ignore[union-attr]


def test_outputs_before_the_response_finishes_wait_for_it() -> None:
    c = core()
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "x", "{}"), 2200)
    assert c.handle(ToolResult("c1", "x", "{}"), 2300) == [SendToolOutput("c1", "{}")]
    assert c.handle(ResponseFinished("r1"), 2400) == [RequestReply()]


def test_a_slow_tool_gets_a_structured_answer_and_its_late_result_a_note() -> None:
    c = core(tool_budget_ms=300)
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "slow", "{}"), 2200)
    c.handle(ResponseFinished("r1"), 2250)
    assert c.next_deadline_ms() == 2500
    out = c.handle(Tick(), 2500)
    [output, warning, request] = out
    assert isinstance(output, SendToolOutput) and json.loads(output.output_json)["error"] == (
        "tool_timeout"
    )
    assert warning == Log("warning", "tool over budget", {"TOOL": "slow"})
    assert request == RequestReply()
    late = c.handle(ToolResult("c1", "slow", '{"ok":true}'), 4000)
    assert late == [
        AddNote('Late result of the earlier slow call (c1): {"ok":true}'),
        Log("info", "late tool result added as a note", {"TOOL": "slow"}),
    ]


def test_a_failed_response_abandons_its_calls() -> None:
    c = core()
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "x", "{}"), 2200)
    out = c.handle(ResponseFinished("r1", "failed", "rate_limit_exceeded"), 2300)
    assert CancelTools() in out and RequestReply() not in out
    assert c.handle(ToolResult("c1", "x", "{}"), 2400) == []  # never continued


def test_a_confirmation_turns_on_transcription_for_the_next_user_turn() -> None:
    c = core()
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "set_power", "{}"), 2200)
    out = c.handle(
        ToolResult("c1", "set_power", '{"ok":false}', ok=False, wants_transcript=True), 2300
    )
    assert out == [SetTranscription(True), SendToolOutput("c1", '{"ok":false}')]
    assert c.handle(UserTranscript("yes please"), 5000) == [
        UserSaid("yes please"),
        SetTranscription(False),
    ]
    assert c.handle(UserTranscript("again"), 6000) == []  # only the first one counts


# -- interruptions -------------------------------------------------------------------------------
def speaking(c: TurnCore) -> None:
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    for t in range(5):  # 500 ms received
        c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200 + t)


def test_wake_word_barge_in_truncates_at_what_was_heard() -> None:
    c = core()
    speaking(c)
    c.handle(Heard((("i1", 24 * 130 + 7),)), 2500)
    out = without_logs(c.handle(WakeDetected("hey_jarvis", 0.8, 90_000, 88_000), 2510))
    assert out == [
        StateChanged(S.SPEAKING, S.LISTENING, "t2"),
        StopPlayback(),
        Truncate("i1", 130),
        CancelReply("r1"),
        ClearInput(),  # a local barge-in: the next question is streamed from the wake word
        EndTurn("barge_in"),
        PlayEarcon("wake"),
        BeginTurn("wake"),
        StreamFrom(88_000),
    ]
    # the cancelled response's late audio and end are dropped
    assert c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2520) == []
    assert c.handle(ResponseFinished("r1", "cancelled", "client_cancelled"), 2530) == []
    assert c.state is S.LISTENING


def test_barge_in_caps_at_received_and_skips_a_fully_heard_item() -> None:
    c = core()
    speaking(c)
    c.handle(ReplyAudio("r1", "i2", PCM_100MS), 2300)  # a second audio item, same response
    c.handle(ResponseFinished("r1"), 2400)
    c.handle(Heard((("i1", 10**9), ("i2", 24 * 40))), 2450)  # more than received: capped
    out = c.handle(Cancel(), 2500)
    truncates = [a for a in out if isinstance(a, Truncate)]
    assert truncates == [Truncate("i2", 40)]  # i1 heard in full, response over: nothing to cut
    assert not [a for a in out if isinstance(a, CancelReply)]  # nothing active to cancel


def test_an_item_nobody_announced_is_still_truncated() -> None:
    c = core()
    speaking(c)
    c.handle(ReplyAudio("r1", "ghost", PCM_100MS), 2300)
    c.handle(Heard((("i1", 24 * 500), ("ghost", 24 * 20))), 2400)
    out = c.handle(TalkPressed(), 2410)
    assert [a for a in out if isinstance(a, Truncate)] == [
        Truncate("i1", 500),
        Truncate("ghost", 20),
    ]


def test_barge_in_during_a_tool_call_closes_the_call_without_a_reply() -> None:
    c = core()
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "x", "{}"), 2200)
    c.handle(ResponseFinished("r1"), 2300)
    out = without_logs(c.handle(TalkPressed(), 2400))
    assert out[:5] == [
        StateChanged(S.THINKING, S.LISTENING, "t2"),
        StopPlayback(),
        CancelTools(),
        SendToolOutput("c1", '{"status": "cancelled", "reason": "user interrupted"}'),
        ClearInput(),
    ]
    assert RequestReply() not in out


def test_barge_in_before_the_response_started_cancels_it_on_arrival() -> None:
    c = core()
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    c.handle(ToolCallRequested("r1", "c1", "x", "{}"), 2200)
    c.handle(ToolResult("c1", "x", "{}"), 2250)
    c.handle(ResponseFinished("r1"), 2300)  # -> RequestReply, not started yet
    c.handle(Cancel(), 2400)
    assert c.handle(ResponseStarted("r2"), 2500) == [CancelReply("r2")]


def test_full_duplex_server_speech_barges_in_but_keeps_the_input() -> None:
    c = core(duplex="full", barge_guard_ms=300)
    speaking(c)
    c.handle(Heard((("i1", 24 * 200),)), 2700)
    assert c.handle(UserSpeechStarted(), 2400) == [  # 200 ms into the reply: its own echo
        Log("info", "speech 200 ms into the reply ignored (its own echo)", {"STATE": "speaking"})
    ]
    out = without_logs(c.handle(UserSpeechStarted(), 2800))
    assert out == [
        UserTurnStarted(),
        StateChanged(S.SPEAKING, S.LISTENING, "t2"),
        StopPlayback(),
        Truncate("i1", 200),
        CancelReply("r1"),
        EndTurn("barge_in"),
        BeginTurn("barge_in"),
    ]  # no ClearInput, and the stream (full duplex) goes on


def test_mute_during_a_reply_cancels_and_closes_the_mic() -> None:
    c = core()
    speaking(c)
    out = without_logs(c.handle(MuteToggle(), 2600))
    assert out[0] == StateChanged(S.SPEAKING, S.MUTED, "t1")
    assert CancelReply("r1") in out and StopStream(clear_input=True) in out


# -- the session ---------------------------------------------------------------------------------
def test_lost_session_in_a_turn_is_a_network_failure() -> None:
    c = core()
    speaking(c)
    out = c.handle(SessionLost("close code 1006"), 2600)
    assert out[0] == Log(
        "warning",
        "realtime connection lost: close code 1006",
        {"ERROR_CODE": "network", "STATE": "speaking"},
    )
    assert out[1] == StateChanged(S.SPEAKING, S.ERROR, "t1")
    assert PlayEarcon("error") in out and EndTurn("error") in out


def test_a_failed_connect_gives_up_at_once_in_a_turn() -> None:
    c = core()
    wake(c)
    out = c.handle(SessionLost("ConnectionRefusedError", will_retry=True), 300)
    assert CloseSession("error") in out and c.state is S.ERROR
    assert Connect() in wake(c, now=5000)  # the next wake tries again


def test_fatal_refusal_stops_the_daemon() -> None:
    c = core()
    wake(c)
    out = c.handle(SessionFatal("realtime service refused the api key (http 401)"), 300)
    assert out[0] == FailFatal("realtime service refused the api key (http 401)")


def test_idle_sessions_close_and_old_ones_rotate_between_turns() -> None:
    c = core(idle_close_s=300.0, session_max_s=3300.0, follow_up_s=0.0)
    ready_turn(c)  # session ready at 100
    c.handle(ResponseStarted("r1"), 2100)
    played_out(c, c.handle(ResponseFinished("r1"), 2200), 2300)
    assert c.next_deadline_ms() == 2200 + 300_000  # from the last activity
    assert c.handle(Tick(), 302_200) == [
        Log("info", "closing idle realtime session"),
        CloseSession("idle"),
    ]
    assert c.next_deadline_ms() is None
    d = core(idle_close_s=0.0, session_max_s=600.0, follow_up_s=0.0)
    ready_turn(d)
    d.handle(ResponseStarted("r1"), 2100)
    assert d.next_deadline_ms() == 62_000  # in a turn only the turn cap: no closing
    played_out(d, d.handle(ResponseFinished("r1"), 2200), 2300)
    assert d.next_deadline_ms() == 600_100
    assert d.handle(Tick(), 600_100)[-1] == CloseSession("rotate")


# -- the cost governor ---------------------------------------------------------------------------
def test_a_refusing_budget_opens_no_session_and_says_so() -> None:
    c = core()
    reached = BudgetChanged("refuse", "gpt-realtime-2.1", "daily budget $1.00 reached", True)
    assert c.handle(reached, 0) == [ShowBudget(True)]
    out = wake(c, now=10)
    assert Connect() not in out and not [a for a in out if isinstance(a, StreamFrom)][1:]
    assert (
        Log("warning", "turn refused: daily budget $1.00 reached", {"ERROR_CODE": "budget"}) in out
    )
    assert without_logs(out)[-4:] == [
        StateChanged(S.LISTENING, S.IDLE, "t1"),
        StopStream(clear_input=True),
        EndTurn("refused"),
        PlayEarcon("budget"),
    ]
    assert logs(out)[-1].fields["OUTCOME"] == "refused"
    assert c.state is S.IDLE and not c.session.is_open
    assert c.handle(BudgetChanged("ok", "gpt-realtime-2.1", "new day"), 90_000_000) == [
        ShowBudget(False)
    ]
    assert Connect() in wake(c, now=90_000_001)


def test_a_mini_budget_opens_the_next_session_with_the_cheaper_model() -> None:
    c = core()
    c.handle(BudgetChanged("use_model", "gpt-realtime-2.1-mini", "daily budget reached", True), 0)
    assert Connect("gpt-realtime-2.1-mini") in wake(c, now=10)


def test_the_turn_summary_carries_what_the_responses_cost() -> None:
    prices = {"": 0.002, "gpt-realtime-2.1-mini": 0.0005}
    ids = iter(["t1", "t2"])
    c = TurnCore(
        TurnPolicy(follow_up_s=0.0),
        turn_ids=lambda: next(ids),
        cost_usd=lambda model, usage: prices[model],
    )
    ready_turn(c)
    out: list = []
    for rid in ("r1", "r2"):
        out += c.handle(ResponseStarted(rid), 2100)
        out += c.handle(ResponseFinished(rid, usage=object()), 2200)
    [summary] = [a for a in logs(played_out(c, out, 2300)) if "OUTCOME" in a.fields]
    assert summary.fields["COST_USD"] == "0.0040" and summary.message.endswith("$0.0040")
