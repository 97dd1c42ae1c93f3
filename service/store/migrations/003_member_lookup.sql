-- The store reads every campaign membership of the customers in a batch (main-table moves need
-- them): without this index that lookup scans the whole table in every transaction.
CREATE INDEX campaign_records_customer ON campaign_records (tenant, user_data);
