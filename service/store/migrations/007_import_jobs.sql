-- File-import jobs (importWS source=http|ftp, iSales file-server requests): schedule, state, progress,
-- checkpoint and result. Source credentials are sealed (authenticated encryption), never plain text.

CREATE TABLE import_jobs (
    id                text        PRIMARY KEY,
    tenant            text        NOT NULL,
    dialect           text        NOT NULL,
    campaign          text        NOT NULL,
    state             text        NOT NULL DEFAULT 'scheduled'
                      CHECK (state IN ('scheduled', 'running', 'completed', 'failed', 'cancelled')),
    due_at            timestamptz NOT NULL,
    source_kind       text        NOT NULL CHECK (source_kind IN ('http', 'ftp', 'sftp')),
    source_url        text,                     -- http(s)/ftp: the URL without user info
    source_secret     bytea,                    -- sealed {"username", "password"}; NULL: no login
    server_id         text,                     -- sftp: the file server registered by id
    file_path         text,
    file_name         text,
    format            text        NOT NULL CHECK (format IN ('csv', 'xlsx')),
    options           jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- the dialect's row options (delrow, …)
    max_rows          bigint      NOT NULL,
    total_rows        bigint,                   -- data rows in the file, once counted
    checkpoint        bigint      NOT NULL DEFAULT 0,  -- last physical row number applied
    rows_read         bigint      NOT NULL DEFAULT 0,
    rows_applied      bigint      NOT NULL DEFAULT 0,
    rows_failed       bigint      NOT NULL DEFAULT 0,
    error_code        text,
    error_message     text,
    lease_owner       text,
    lease_expires_at  timestamptz,
    attempts          integer     NOT NULL DEFAULT 0,
    event_source      text        NOT NULL,     -- the request event
    event_id          text        NOT NULL,
    event_topic       text        NOT NULL,
    event_partition   integer     NOT NULL,
    event_offset      bigint      NOT NULL,
    event_time_ms     bigint      NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_jobs_due ON import_jobs (due_at) WHERE state = 'scheduled';
CREATE INDEX import_jobs_lease ON import_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX import_jobs_tenant ON import_jobs (tenant, created_at);
