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
