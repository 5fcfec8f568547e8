"""Grafana as code: the panel catalogue (pipeline.panels) built into dashboards and alert rules
with grafana-foundation-sdk; the generated JSON is committed beside this file."""
