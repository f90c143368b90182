import pytest

from edge_agent.audio.devices import find_device, list_devices, open_pyaudio
from edge_agent.errors import DeviceNotFound
from edge_agent.sim.alsa import AlsaFileRig


@pytest.fixture
def pa(alsa_rig: AlsaFileRig):
    pa = open_pyaudio()
    yield pa
    pa.terminate()


def test_lists_the_rig_devices(pa) -> None:
    by_name = {d.name: d for d in list_devices(pa)}
    assert by_name["fakemic"].max_input_channels > 0
    assert by_name["fakespk"].max_output_channels > 0
    assert by_name["fakespk"].default_rate_hz > 0


def test_select_exact_substring_and_default(pa) -> None:
    assert find_device(pa, "fakemic", "input").name == "fakemic"
    assert find_device(pa, "SPK", "output").name == "fakespk"
    assert find_device(pa, "default", "output").name == "default"


def test_missing_device_error_lists_what_exists(pa) -> None:
    with pytest.raises(DeviceNotFound) as err:
        find_device(pa, "USB Audio", "input")
    msg = str(err.value)
    assert "'USB Audio'" in msg and "'fakemic'" in msg and "'default'" in msg


def test_ambiguous_substring_is_an_error(pa) -> None:
    with pytest.raises(DeviceNotFound, match="ambiguous"):
        find_device(pa, "d", "output")  # duplex, default, ...


def test_open_pyaudio_unloads_the_alsa_plugins_it_probed_and_devices_still_open(
    alsa_rig: AlsaFileRig,
) -> None:
    """PortAudio's probe loads every alsa-lib plugin; open_pyaudio frees them again, and a
    stream on a listed device still opens and delivers audio afterwards."""
    import subprocess
    import sys

    code = (
        "from edge_agent.audio.devices import find_device, open_pyaudio\n"
        "pa = open_pyaudio()\n"
        "maps = open('/proc/self/maps').read()\n"
        "print('plugins', maps.count('libasound_module_pcm_'))\n"
        "import pyaudio\n"
        "mic = find_device(pa, 'fakemic', 'input').index\n"
        "s = pa.open(format=pyaudio.paInt16, channels=1, rate=16000, input=True,\n"
        "            input_device_index=mic, frames_per_buffer=320)\n"
        "print('read', len(s.read(320, exception_on_overflow=False)))\n"
        "s.close(); pa.terminate()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = dict(line.split() for line in out.stdout.splitlines())
    assert lines == {"plugins": "0", "read": "640"}


_PROBE = r"""
import json, sys
from edge_agent.audio import devices as d
keep = json.loads(sys.argv[1])
pa = d.open_pyaudio() if keep is None else d.open_pyaudio(keep=[tuple(k) for k in keep])
libs = sorted({line.split()[-1] for line in open('/proc/self/maps') if '.so' in line})
print(json.dumps({"names": [x.name for x in d.list_devices(pa)], "libs": libs}))
pa.terminate()
"""


def _probe(keep: list[list[str]] | None) -> dict[str, list[str]]:
    """open_pyaudio in a fresh process (PortAudio's probe and alsa-lib's plugins are global)."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(keep)], capture_output=True, text=True, check=True
    )
    result: dict[str, list[str]] = json.loads(out.stdout)
    return result


@pytest.fixture
def rig_with_a_speex_chain(alsa_rig: AlsaFileRig) -> AlsaFileRig:
    """`mymic` is a plug over `micspeex`, a speex-plugin PCM over the fake mic: a configured
    device that needs a PCM of a type the daemon's probe skips."""
    rc = alsa_rig.dir / "alsa" / "asoundrc"
    rc.write_text(
        rc.read_text() + 'pcm.mymic { type plug; slave.pcm "micspeex" }\n'
        'pcm.micspeex { type speex; slave.pcm "fakemic"; denoise true }\n'
    )
    return alsa_rig


def test_probe_for_the_configured_devices_skips_plugin_pcms_and_their_libraries(
    rig_with_a_speex_chain: AlsaFileRig,
) -> None:
    full = _probe(None)
    narrow = _probe([["fakemic", "input"], ["fakespk", "output"]])
    assert "micspeex" in full["names"] and "mymic" in full["names"]
    # the speex PCM (and the plug needing it) are not probed; everything else is listed as before
    assert narrow["names"] == [n for n in full["names"] if n not in ("mymic", "micspeex")]
    assert set(narrow["libs"]) < set(full["libs"])  # e.g. libspeexdsp never mapped


def test_probe_falls_back_to_a_full_one_when_a_configured_device_needs_a_skipped_pcm(
    rig_with_a_speex_chain: AlsaFileRig,
) -> None:
    full = _probe(None)
    chained = _probe([["mymic", "input"], ["fakespk", "output"]])
    assert chained["names"] == full["names"]  # mymic found: the full probe was redone


def test_probe_keeps_a_skipped_type_pcm_the_config_names(
    rig_with_a_speex_chain: AlsaFileRig,
) -> None:
    assert "micspeex" in _probe([["micspeex", "input"]])["names"]
