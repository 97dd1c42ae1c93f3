-- Thulium's dictionary_status_id: the record's dictionary status in the campaign, next to its status.
ALTER TABLE campaign_records ADD COLUMN dictionary_status text;
