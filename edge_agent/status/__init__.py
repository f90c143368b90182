"""Status LEDs and buttons (gpiozero).

`patterns` (pure) parses the ``[status.led]`` patterns into frames; `presses` (pure) turns raw
button edges into mute/talk/cancel; `leds` and `buttons` are the thin gpiozero shells, and
`gpio` turns gpiozero's errors into `GpioError` naming the pin. Importing
this package imports no gpiozero: `leds` and `buttons` do, when the daemon asks for them.
"""

__all__: list[str] = []
