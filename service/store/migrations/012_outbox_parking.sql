-- Messages the broker refuses for good (too large, invalid record, not authorised on the topic) are parked:
-- taken out of the publishing order with the error, so every message behind them is still published.
-- `contact-import parked list` shows them, `contact-import parked redrive` queues them again. Parked rows
-- are never expired (published_at stays NULL); a redriven row is deleted and queued anew (a new seq).
ALTER TABLE outbox ADD COLUMN parked_at timestamptz, ADD COLUMN park_error text;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL;
