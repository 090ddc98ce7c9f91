"""The `rnx` command-line client."""
