"""Tests of pipeline.text and the `cx text` CLI."""
