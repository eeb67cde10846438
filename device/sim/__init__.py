"""The simulated world: people, speech, noise, shutter, obstacles; renders what the device's sensors perceive."""
