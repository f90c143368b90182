"""Local stand-ins for the hardware and the cloud: the Realtime emulator, device emulators,
fake ALSA devices and scripted scenarios. Used by the tests, `edge-agent simulate` and the demo."""
