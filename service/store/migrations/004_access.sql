-- Login throttle for API users (importWS credentials), shared by every replica: failures within a
-- window per (tenant, login), and until when the login is locked. The tenant an event id was
-- claimed for, so an id re-used by another tenant is never answered with the first tenant's outcomes.

CREATE TABLE login_failures (
    tenant        text        NOT NULL,
    login         text        NOT NULL,
    failures      integer     NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, login)
);
CREATE INDEX login_failures_age ON login_failures (updated_at);

ALTER TABLE processed_events ADD COLUMN tenant text;
