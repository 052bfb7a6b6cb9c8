"""Discrete-event model of the reference architecture (see issue: simulator)."""
