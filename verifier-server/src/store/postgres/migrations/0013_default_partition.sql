-- 7: a default partition for check records whose device time is far from
-- the machine's clock (a device clock reset to 1970, or running at year
-- 9999): the program makes monthly partitions only for device times from
-- 400 days before to 62 days after its clock, so no absurd time creates a
-- partition of its own. A month whose partition is made later takes its
-- rows out of this one first (store/postgres/logs.rs).
CREATE TABLE verification_records_default PARTITION OF verification_records DEFAULT;
