-- Tenants, their API users, campaigns and status definitions; dial list without a uniqueness rule
-- (importWS dupdiallist=all queues a phone again on every import); membership ids.

CREATE TABLE tenants (
    tenant        text        PRIMARY KEY,
    name          text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_users (
    tenant        text        NOT NULL REFERENCES tenants ON DELETE CASCADE,
    usertype      text        NOT NULL CHECK (usertype IN ('agent', 'account')),
    login         text        NOT NULL,
    password_hash text        NOT NULL,  -- slow hash of the MD5 of the password, never plaintext
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, usertype, login)
);

CREATE TABLE campaigns (
    tenant          text      NOT NULL REFERENCES tenants ON DELETE CASCADE,
    campaign        text      NOT NULL,            -- external id (importWS model_id, DiallerCampaignsID, …)
    name            text      NOT NULL,            -- display name (DiallerCampaignsName)
    key_field       text      NOT NULL DEFAULT 'UserData',
    fields          jsonb     NOT NULL DEFAULT '{}'::jsonb,  -- field name -> display name
    uses_main_table boolean   NOT NULL DEFAULT false,
    default_region  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, campaign),
    UNIQUE (tenant, name)
);

CREATE TABLE campaign_statuses (
    tenant        text        NOT NULL,
    campaign      text        NOT NULL,
    status_id     text        NOT NULL,
    name          text        NOT NULL,
    system_status text,  -- MY_RECORD, CALL_NO_SOONER_THAN, SUCCESS, …
    PRIMARY KEY (tenant, campaign, status_id),
    FOREIGN KEY (tenant, campaign) REFERENCES campaigns ON DELETE CASCADE
);

ALTER TABLE campaign_records ADD COLUMN id bigserial UNIQUE;

ALTER TABLE dial_list DROP CONSTRAINT dial_list_tenant_campaign_user_data_phone_key;
CREATE INDEX dial_list_member ON dial_list (tenant, campaign, user_data);
