"""The doctor's probes: the thin I/O shell that looks at the real things and feeds `doctor`.

Owns: loading the config, resolving and connecting to the Realtime host, the WebSocket
handshake, recording a second from the mic and opening the speaker, loading the wake models,
opening the GPIO pins, reading each device, looking up the service user, and sending one entry
to journald. Every check has a timeout; blocking work (PyAudio, onnxruntime, gpiozero, NSS)
runs in daemon threads (`worker.in_thread`) so that a wedged driver can neither block the event
loop nor keep the process from exiting. Independent checks run concurrently; the mic and the
speaker share one PyAudio instance and run one after the other.
Must not: decide verdicts (that is `edge_agent.doctor`), print, or show a secret.

    runner.py   DoctorOptions, run_checks: timeouts, order, --skip, redaction
    network.py  DNS + TCP to the Realtime host, the handshake, one state read per device
    sound.py    mic (record, level) and speaker (play silence)
    machine.py  wake models, GPIO pins, the service user's groups, journald
    worker.py   daemon-thread hand-off, short error reasons

Backends are injected through `DoctorOptions` (journal socket path, gpiozero pin factory,
PyAudio factory, models directory, service user, a ready config) so tests run the same code
on the ALSA file rig, gpiozero mock pins, a journald sink and the local emulators.
"""

from edge_agent.probes.runner import DoctorOptions, run_checks

__all__ = ["DoctorOptions", "run_checks"]
