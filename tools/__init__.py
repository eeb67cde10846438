"""Developer tools: set-up, install, soak and benchmark scripts (not shipped on the device)."""
