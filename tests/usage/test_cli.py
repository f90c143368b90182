"""`edge-agent usage` over a ledger the daemon's code wrote: text and --json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from edge_agent.cli import main
from edge_agent.realtime.events import Usage
from edge_agent.usage.ledger import UsageLedger
from edge_agent.usage.prices import PriceTable


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"[daemon]\nstate_dir = {str(tmp_path / 'state')!r}\n{extra}")
    return path


async def fill(state: Path, now: dt.datetime) -> None:
    ledger = await UsageLedger.open(state / "usage.sqlite3", PriceTable())
    try:
        turn = Usage(input_tokens=1000, input_audio_tokens=1000, cached_tokens=600,
                     cached_audio_tokens=600, output_tokens=200, output_audio_tokens=200)  # fmt: skip
        await ledger.record("turn-1", "gpt-realtime-2.1", turn, now)
        await ledger.record("turn-2", "gpt-realtime-2.1-mini", turn, now)
        await ledger.record("turn-2", "gpt-realtime-2.1-mini", turn, now)
        await ledger.record("turn-3", "my-deployment", turn, now)
    finally:
        await ledger.aclose()


# 400 audio in at $32, 600 cached at $0.40, 200 audio out at $64 / mini: $10, $0.30, $20
FULL = (400 * 32 + 600 * 0.4 + 200 * 64) / 1e6
MINI = (400 * 10 + 600 * 0.3 + 200 * 20) / 1e6


async def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    await fill(tmp_path / "state", now)
    cfg = write_config(tmp_path, "[budget]\ndaily_usd = 0.04\naction = 'mini'\n")
    assert main(["usage", "--config", str(cfg), "--json", "--turns", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["today"]["usd"] == pytest.approx(FULL + 2 * MINI, abs=1e-6)
    assert report["today"]["limit_usd"] == 0.04
    assert report["month"]["usd"] == pytest.approx(FULL + 2 * MINI, abs=1e-6)
    assert report["budget"]["action"] == "use_model"
    assert report["budget"]["model"] == "gpt-realtime-2.1-mini"
    assert [(t["turn_id"], t["responses"], t["priced"]) for t in report["turns"]] == [
        ("turn-3", 1, False),
        ("turn-2", 2, True),
    ]
    assert report["turns"][1]["usd"] == pytest.approx(2 * MINI, abs=1e-6)


async def test_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await fill(tmp_path / "state", dt.datetime.now(dt.UTC))
    assert main(["usage", "--config", str(write_config(tmp_path))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("today (") and out[0].endswith(f" ${FULL + 2 * MINI:.4f}")
    assert out[2] == "budget: ok: no budget set; today $0.04, this month $0.04"
    assert out[4] == "last 3 turn(s), newest first (local time):"
    rows = out[6:9]
    assert "my-deployment" in rows[0] and "unpriced" in rows[0]
    assert "gpt-realtime-2.1-mini" in rows[1] and f"${2 * MINI:.4f}" in rows[1]
    assert "2000 (1200)" in rows[1] and rows[1].endswith(" 400")
    assert f"${FULL:.4f}" in rows[2]
    assert out[-1].startswith("unpriced: the model has no price; add a [[usage.prices]]")


def test_no_ledger_yet_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--config", str(write_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert " $0.0000\n" in out and out.rstrip().endswith("no turns recorded yet")
    assert not (tmp_path / "state").exists()  # reading never creates the ledger


def test_help_names_the_ledger_and_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["usage", "--help"])
    out = capsys.readouterr().out
    assert "usage.sqlite3" in out and "docs/cost.md" in out and "--json" in out
