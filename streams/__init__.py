"""The Faust app: topics, agents and tables wired around the plain functions in `pipeline`."""
