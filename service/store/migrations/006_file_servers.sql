-- File servers a tenant registers by id (the iSales serverId): where its import files are fetched from.
-- The password is sealed (a Fernet token under CIS_IMPORT_SECRET_KEY), never stored in plain text.

CREATE TABLE file_servers (
    tenant          text        NOT NULL REFERENCES tenants ON DELETE CASCADE,
    server_id       text        NOT NULL,
    protocol        text        NOT NULL DEFAULT 'sftp' CHECK (protocol IN ('sftp')),
    host            text        NOT NULL,
    port            integer     NOT NULL DEFAULT 22 CHECK (port BETWEEN 1 AND 65535),
    username        text        NOT NULL,
    password_sealed bytea       NOT NULL,
    base_path       text        NOT NULL DEFAULT '/',
    host_key        text,       -- the server's OpenSSH public host key; NULL: not checked
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, server_id)
);
