"""Hardware abstraction: each touchpoint (audio, camera, GPIO, MCU serial) with a real and a simulated backend."""
