"""Turntable health: the reference signature, per-move features, the decision rule and the health service."""
