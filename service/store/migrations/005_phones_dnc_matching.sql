-- Phones, time zones, do-not-call lists and match policies.

-- The IANA time zones of each queued number (libphonenumber), so a dialer can honour calling windows.
ALTER TABLE dial_list ADD COLUMN time_zones text[];
CREATE INDEX dial_list_phone ON dial_list (phone);

-- Do-not-call lists: per tenant, or global (tenant '').
CREATE TABLE dnc_lists (
    tenant        text        NOT NULL DEFAULT '',
    list          text        NOT NULL,
    description   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, list)
);

-- Numbers in E.164; a number stops suppressing at its expiry (none: never).
CREATE TABLE dnc_numbers (
    tenant        text        NOT NULL,
    list          text        NOT NULL,
    phone         text        NOT NULL,
    expires_at    timestamptz,
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, list, phone),
    FOREIGN KEY (tenant, list) REFERENCES dnc_lists ON DELETE CASCADE
);
CREATE INDEX dnc_numbers_phone ON dnc_numbers (phone);

-- Match policy per campaign: what counts as a duplicate of an incoming record.
ALTER TABLE campaigns
    ADD COLUMN match_on text NOT NULL DEFAULT 'user_data' CHECK (match_on IN ('user_data', 'user_data_or_phone')),
    ADD COLUMN match_scope text NOT NULL DEFAULT 'tenant' CHECK (match_scope IN ('tenant', 'campaign')),
    ADD COLUMN match_lookback_days integer CHECK (match_lookback_days > 0);

-- The phone fallback finds customers by a number in their phones (one bitmap scan per batch).
CREATE INDEX customers_phones ON customers USING gin ((data -> 'phones') jsonb_path_ops);
