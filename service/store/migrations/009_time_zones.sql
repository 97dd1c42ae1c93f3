-- Time zones: the local times the vendors send (Thulium next_call_date, importWS dialtime and exetime,
-- iSales hour/minute and recycleTime, the dialler's dates) are read in the campaign's zone, else the
-- tenant's, else CIS_IMPORT_TIMEZONE (UTC by default). Each stored instant keeps the zone it was read in.

ALTER TABLE tenants ADD COLUMN timezone text;              -- IANA name; NULL: CIS_IMPORT_TIMEZONE
ALTER TABLE campaigns ADD COLUMN timezone text;            -- IANA name; NULL: the tenant's
ALTER TABLE campaign_records ADD COLUMN next_call_zone text;  -- the zone next_call_at was given in
ALTER TABLE campaign_records ADD COLUMN window_zone text;     -- the zone window_begin/window_end were given in
ALTER TABLE dial_list ADD COLUMN dial_zone text;              -- the zone dial_at was given in
ALTER TABLE import_jobs ADD COLUMN due_zone text;             -- the zone exetime / hour:minute were read in
