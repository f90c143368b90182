"""The pipeline components the App runs: speaker, mic + wake word, streamer, dialogue, status."""
