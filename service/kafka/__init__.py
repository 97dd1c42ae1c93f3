"""Kafka edges: client factories, topic admin, the consumer loop and the outbox relay."""
