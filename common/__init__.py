"""Shared pieces of every joblet process: config, errors, logging, identifiers."""
