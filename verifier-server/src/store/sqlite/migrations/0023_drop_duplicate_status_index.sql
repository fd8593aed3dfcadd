-- 23: migration 22's index on certificates (status_index) duplicated the
-- one the column's UNIQUE constraint already makes (migration 1); it only
-- slowed every insert and update of a certificate.
DROP INDEX certificates_status_index;
