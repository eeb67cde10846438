"""The web service: the device's own screen and the owner's phone (live polar view, setup, pairing)."""
