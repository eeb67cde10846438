"""Tests of the speaker: filter design, the renderer, the service on the bus, the command line."""
