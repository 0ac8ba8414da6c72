-- Drop from the staged batch of store %(location)s the rows identical to what is stored, so
-- a re-import writes nothing (claims/sql/pms_upsert.sql then writes what is left).
-- Batch-sized sorts and hashes stay in memory.
SET LOCAL work_mem = '64MB';

-- One probe of the real-world key index per staged row, whatever the statistics say: as a
-- join the planner hashes every fill of the store when that looks cheaper, and with cached
-- pages it is not (a 5,000-row push against a 215,000-fill store: 268 ms hashed, 12 ms
-- probed); the cost grows with the batch, never with the store.
DELETE FROM pms_stage s
WHERE s.row_hash = (
    SELECT f.row_hash FROM claims_fill f
    WHERE f.location_id = %(location)s AND f.rx_number = s.rx_number
      AND f.fill_number = s.fill_number AND f.date_of_service = s.date_of_service
      AND f.transaction_code = s.transaction_code);
