-- 7: one partition for every check record whose device time is before
-- 2020-01-01 00:00 China Standard Time (1577808000), before the system
-- existed: a device whose clock was reset to 1970 has its records stored
-- there instead of creating a monthly partition per absurd month (the
-- program creates monthly partitions only from that date on; device times
-- far after the server's clock are refused by the service).
CREATE TABLE verification_records_early PARTITION OF verification_records
    FOR VALUES FROM (MINVALUE) TO (1577808000);
