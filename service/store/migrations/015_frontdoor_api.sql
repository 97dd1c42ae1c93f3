-- The HTTP front door: API users (HTTP basic auth, Thulium and Dialler calls) are catalog users of
-- type 'api'; iSales callers send a per-tenant API token, stored only as its SHA-256.
ALTER TABLE tenant_users DROP CONSTRAINT tenant_users_usertype_check;
ALTER TABLE tenant_users ADD CONSTRAINT tenant_users_usertype_check CHECK (usertype IN ('agent', 'account', 'api'));

CREATE TABLE api_tokens (
    tenant      text        NOT NULL REFERENCES tenants ON DELETE CASCADE,
    name        text        NOT NULL,
    token_hash  bytea       NOT NULL UNIQUE,  -- sha256 of the token; the token itself is shown once
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, name)
);
