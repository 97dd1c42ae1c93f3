"""Contact Import Service: Kafka contact-import events to PostgreSQL, exactly once, with per-record outcomes."""

__version__ = "0.1.0"
