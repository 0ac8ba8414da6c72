-- A reversal marks its original claim reversed instead of deleting it. This file handles a
-- B2 staged now against its B1 (stored earlier or inserted by this batch); a B1 arriving
-- after its B2 is inserted as reversed by pms_upsert.sql. Per-key lookups through the
-- fill_real_world_key unique index (location, rx, fill, date of service, transaction).
-- The job that marked it becomes the row's source (reconciliation finds changed claims so).
SET LOCAL enable_nestloop = on;

UPDATE claims_fill f SET status = 'reversed', source_job_id = %(job)s, updated_at = now()
FROM (
    SELECT DISTINCT rx_number, fill_number, date_of_service
    FROM pms_stage WHERE transaction_code = 'B2'
) k
WHERE f.location_id = %(location)s AND f.transaction_code = 'B1'
  AND f.rx_number = k.rx_number AND f.fill_number = k.fill_number
  AND f.date_of_service = k.date_of_service
  AND f.status <> 'reversed';
