"""Scenario files: topology overrides, load phases, timed faults and expectations."""
