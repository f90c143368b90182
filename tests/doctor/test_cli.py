"""`edge-agent doctor` as a user runs it: a subprocess with its own ALSA config, gpiozero mock
pins and, in a private mount namespace, a journald socket at the real path."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.journald import entry_dict, namespaced
from edge_agent.sim.realtime_server import RealtimeEmulator

from .conftest import BAD_KEY, GOOD_KEY, SCALE, Device, RigConfig, closed_port

ROOT = Path(__file__).resolve().parents[2]


def rig_env(alsa: AlsaFileRig, models_dir: Path, key: str) -> dict[str, str]:
    return {
        **os.environ,
        **alsa.env,
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": key,
        "EDGE_AGENT_MODELS_DIR": str(models_dir),
        "GPIOZERO_PIN_FACTORY": "mock",
        "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin",
        "PYTHONIOENCODING": "utf-8",
    }


async def doctor(
    alsa: AlsaFileRig, models_dir: Path, *args: str, key: str = GOOD_KEY
) -> tuple[int, str, str]:
    """Run the command without blocking the loop (the emulators answer on it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_agent", "doctor", "--credential", "/nonexistent", *args,
        env=rig_env(alsa, models_dir, key), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 90 * SCALE)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_good_rig_all_ticks_and_exit_0(
    tmp_path: Path,
    alsa: AlsaFileRig,
    realtime: RealtimeEmulator,
    devices: list[Device],
    models_dir: Path,
) -> None:
    """With journald's socket present (namespaced rig), every check but the user is ✓."""
    cfg = RigConfig(realtime.url, devices).write(tmp_path / "config.toml")
    cmd = [sys.executable, "-m", "edge_agent", "doctor", "--credential", "/x", "--config", str(cfg)]
    report = await in_namespace(alsa, models_dir, cmd)
    lines = report["stdout"].splitlines()
    assert report["returncode"] == 0, report["stdout"] + report["stderr"]
    marks = [ln[0] for ln in lines if ln[:2] in ("✓ ", "✗ ", "! ", "– ")]
    assert marks.count("✓") == 15 and marks.count("✗") == 0, report["stdout"]
    assert any(ln.startswith("! service user") for ln in lines)  # tests run as root
    assert lines[-1].startswith("all checks passed")
    entries = [entry_dict(base64.b64decode(d)) for d in report["datagrams"]]
    assert any(e.get("DOCTOR") == "1" for e in entries)
    assert GOOD_KEY not in report["stdout"] + report["stderr"]


async def in_namespace(alsa: AlsaFileRig, models_dir: Path, cmd: list[str]) -> dict[str, Any]:
    """`cmd`'s returncode, stdout, stderr and journal datagrams (edge_agent.sim.journald)."""
    proc = await asyncio.create_subprocess_exec(
        *namespaced(cmd), env=rig_env(alsa, models_dir, GOOD_KEY), cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 90 * SCALE)
    assert proc.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


async def test_broken_rig_exit_code_is_the_number_of_failures(
    tmp_path: Path,
    alsa: AlsaFileRig,
    realtime: RealtimeEmulator,
    devices: list[Device],
) -> None:
    gone = Device("porch light", "shelly_gen1", closed_port())
    cfg = RigConfig(
        realtime.url,
        [devices[0], gone],
        input_device="nosuchmic",
        led='type = "single"\npin = "GPIO99"',
    ).write(tmp_path / "config.toml")
    code, out, err = await doctor(
        alsa, tmp_path / "no-models", "--config", str(cfg), "--timeout-s", "2", key=BAD_KEY
    )
    crosses = [ln for ln in out.splitlines() if ln.startswith("✗ ")]
    assert code == len(crosses) >= 6, out
    assert any("key rejected (http 401)" in ln for ln in crosses)
    assert "fix: run `edge-agent models fetch`" in out
    assert "no capture device matches 'nosuchmic'" in out and "'fakemic'" in out
    assert f"{code} check(s) failed" in out.splitlines()[-1]
    assert BAD_KEY not in out + err

    code_json, out_json, _ = await doctor(
        alsa, tmp_path / "no-models", "--config", str(cfg), "--json", key=BAD_KEY
    )
    report = json.loads(out_json)
    assert code_json == report["exit_code"] == report["failures"] == code
    failed = {c["check"] for c in report["checks"] if c["status"] == "fail"}
    assert {"realtime", "mic", "wake models", "gpio", "device 'porch light'"} <= failed
    assert all(c["hint"] for c in report["checks"] if c["status"] == "fail")


async def test_invalid_config_file(tmp_path: Path, alsa: AlsaFileRig, models_dir: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[realtime]\nmodle = 'x'\n")
    code, out, _ = await doctor(alsa, models_dir, "--config", str(path), "--skip", "audio")
    assert out.startswith(f"✗ config           {path}: 1 problem(s):")
    assert "did you mean 'model'?" in out
    assert code == sum(ln.startswith("✗ ") for ln in out.splitlines())


def private_hosts(tmp_path: Path, hosts: str, cmd: list[str]) -> list[str]:
    """`cmd` in a private mount namespace whose name service is only this /etc/hosts: names
    resolve (or fail to) for real through getaddrinfo, and no DNS query leaves the machine."""
    (tmp_path / "hosts").write_text(f"127.0.0.1 localhost\n{hosts}\n")
    (tmp_path / "nsswitch.conf").write_text("hosts: files\n")
    mount = (
        f'set -e; mount --bind "{tmp_path}/hosts" /etc/hosts; '
        f'mount --bind "{tmp_path}/nsswitch.conf" /etc/nsswitch.conf; exec "$@"'
    )
    user = [] if os.geteuid() == 0 else ["-r"]
    return ["unshare", *user, "-m", "--propagation", "private", "sh", "-c", mount, "sh", *cmd]


async def test_names_resolve_through_the_name_service(
    tmp_path: Path, alsa: AlsaFileRig, realtime: RealtimeEmulator, models_dir: Path
) -> None:
    known = RigConfig(f"ws://realtime.doctor.test:{realtime.port}/v1/realtime")
    unknown = RigConfig(f"ws://nowhere.doctor.test:{realtime.port}/v1/realtime")
    skip = ["--skip", "audio", "--skip", "wake", "--skip", "gpio", "--skip", "devices"]
    skip += ["--skip", "model"]
    outputs = []
    for name, cfg in (("known", known), ("unknown", unknown)):
        doctor_cmd = [sys.executable, "-m", "edge_agent", "doctor", "--json", "--credential", "/x"]
        doctor_cmd += skip
        cmd = [*doctor_cmd, "--config", str(cfg.write(tmp_path / f"{name}.toml"))]
        proc = await asyncio.create_subprocess_exec(
            *private_hosts(tmp_path, "127.0.0.1 realtime.doctor.test", cmd),
            env=rig_env(alsa, models_dir, GOOD_KEY), cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60 * SCALE)
        assert out, err.decode()
        report = json.loads(out)
        outputs.append({c["check"]: c for c in report["checks"]})
    good, bad = outputs
    assert good["network"]["status"] == "ok", good["network"]
    assert good["network"]["detail"].startswith("realtime.doctor.test -> 127.0.0.1, tcp port")
    assert good["realtime"]["status"] == "ok", good["realtime"]
    assert bad["network"]["status"] == "fail"
    assert bad["network"]["detail"].startswith("cannot resolve 'nowhere.doctor.test'")
    assert "getent hosts nowhere.doctor.test" in bad["network"]["hint"]
    assert bad["realtime"]["status"] == "fail" and "unreachable" in bad["realtime"]["detail"]
    assert realtime.handshakes == [101]


async def test_bad_durations_are_usage_errors(alsa: AlsaFileRig, models_dir: Path) -> None:
    code, out, err = await doctor(alsa, models_dir, "--record-s", "0")
    assert (code, out) == (2, "")
    assert "--record-s must be more than 0" in err
