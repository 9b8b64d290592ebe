"""Helpers shared by tests: building observations and simulating the world."""
