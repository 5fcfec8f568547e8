"""The data contracts as files: JSON Schemas of the input events and the ClickHouse migrations, shipped as package data."""
