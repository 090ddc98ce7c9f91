"""The `joblet` daemon and its CLI."""
