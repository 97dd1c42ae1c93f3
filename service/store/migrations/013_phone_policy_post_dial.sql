-- An undialable number never fails its record: it is kept, flagged and not dialled, unless the campaign's
-- phone policy is `reject` (a record none of whose numbers can be dialled FAILS). Post-dial digits (the
-- `*`/`#` part of an iSales calledNo) are queued with their number.
ALTER TABLE campaigns ADD COLUMN phone_policy text NOT NULL DEFAULT 'flag'
    CHECK (phone_policy IN ('flag', 'reject'));
ALTER TABLE dial_list ADD COLUMN post_dial text;
