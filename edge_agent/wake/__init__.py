"""Wake-word detection: openWakeWord's models driven with onnxruntime, offline and verified.

Modules: `models` (files, checksums, fetch/resolve), `features` (the streaming front end),
`decision` (the pure fire/no-fire rule), `verifier` (numpy logistic regression on embeddings),
`detector` (`WakeDetector`, `Detection`), `audiofile` (WAV reading for `wake-test`).
"""

__all__: list[str] = []
