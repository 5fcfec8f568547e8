"""`cx ingest`: events in over HTTP, acknowledged once Kafka holds them."""
