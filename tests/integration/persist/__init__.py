"""Integration tests of the persist service's backends against real servers."""
