"""The Kafka side of the engine: the Faust app, its consumer and producer, and every use of Faust's internals."""
