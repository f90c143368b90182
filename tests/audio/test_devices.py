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
