-- A reversal marks its original claim reversed instead of deleting it. This file handles a
-- B2 staged now against its B1 (stored earlier or inserted by this batch); a B1 arriving
-- after its B2 is inserted as reversed by pms_upsert.sql. Per-key lookups through the
-- fill_real_world_key unique index (location, rx, fill, date of service, transaction).
-- The job that marked it becomes the row's source (reconciliation finds changed claims so).
SET LOCAL enable_nestloop = on;

-- The bills are found key by key (a probe of the unique key index each) and then updated by
-- id: as a join, a store the statistics do not know yet (a new store's first batches) can be
-- planned as a scan of all its fills for every reversal (measured: 745 ms instead of 20 ms).
UPDATE claims_fill f SET status = 'reversed', source_job_id = %(job)s, updated_at = now()
WHERE f.id = ANY(ARRAY(
    SELECT (SELECT b.id FROM claims_fill b
            WHERE b.location_id = %(location)s AND b.rx_number = k.rx_number
              AND b.fill_number = k.fill_number AND b.date_of_service = k.date_of_service
              AND b.transaction_code = 'B1' AND b.status <> 'reversed')
    FROM (
        SELECT DISTINCT rx_number, fill_number, date_of_service
        FROM pms_stage WHERE transaction_code = 'B2'
    ) k
));
