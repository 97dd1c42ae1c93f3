-- Core tables: contacts, campaign membership, dial list, offsets, processed events, outbox.

CREATE TABLE customers (
    tenant        text        NOT NULL,
    user_data     text        NOT NULL,
    data          jsonb       NOT NULL,
    content_hash  text        NOT NULL,
    version       bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_data)
);

CREATE TABLE campaign_records (
    tenant        text        NOT NULL,
    campaign      text        NOT NULL,
    user_data     text        NOT NULL,
    status        text,
    agent         text,
    priority      integer,
    next_call_at  timestamptz,
    window_begin  timestamptz,
    window_end    timestamptz,
    phone_state   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, campaign, user_data),
    FOREIGN KEY (tenant, user_data) REFERENCES customers (tenant, user_data) ON DELETE CASCADE
);

CREATE TABLE dial_list (
    id            bigserial   PRIMARY KEY,
    tenant        text        NOT NULL,
    campaign      text        NOT NULL,
    user_data     text        NOT NULL,
    phone         text        NOT NULL,
    phone_type    text,
    priority      integer,
    dial_at       timestamptz,
    delay_s       integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, campaign, user_data, phone)
);

-- The consumer's position, written in the same transaction as the effects it covers.
CREATE TABLE consumer_offsets (
    group_id      text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    next_offset   bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Event ids already applied, for event-level idempotency within the retention window.
CREATE TABLE processed_events (
    event_source  text        NOT NULL,
    event_id      text        NOT NULL,
    dialect       text        NOT NULL,
    records       integer     NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_source, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- Messages to publish, written with the effects; relayed to Kafka, kept for re-emission.
CREATE TABLE outbox (
    seq           bigserial   PRIMARY KEY,
    topic         text        NOT NULL,
    msg_key       bytea,
    payload       bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    event_source  text,
    event_id      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_event ON outbox (event_source, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX outbox_age ON outbox (created_at) WHERE published_at IS NOT NULL;
