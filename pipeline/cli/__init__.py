"""The `cx` command line."""
