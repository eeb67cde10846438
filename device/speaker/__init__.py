"""Spatial audio out: upmix, crosstalk cancellation and beams steered at the listener vision sees."""
