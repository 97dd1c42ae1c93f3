"""PostgreSQL: migrations, the transactional batch writer, offsets, event ids and the outbox."""
