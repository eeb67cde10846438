"""Why a turn was late or wrong: the event journal and `swivel diagnose` (DoWhy's graphical causal models)."""
