"""Where the engine writes: ClickHouse (rows) here; the output topics are `streams.kafka.output`."""
