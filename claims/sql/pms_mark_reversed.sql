-- A reversal marks its original claim reversed instead of deleting it, whichever of the two
-- arrived first. Driven from the staged keys, each lookup served by the fill_real_world_key
-- unique index (location, rx, fill, date of service, transaction).
UPDATE claims_fill f SET status = 'reversed', updated_at = now()
FROM (SELECT DISTINCT rx_number, fill_number, date_of_service FROM pms_stage) k
WHERE f.location_id = %(location)s AND f.transaction_code = 'B1'
  AND f.rx_number = k.rx_number AND f.fill_number = k.fill_number
  AND f.date_of_service = k.date_of_service
  AND f.status <> 'reversed'
  AND EXISTS (
      SELECT 1 FROM claims_fill r
      WHERE r.location_id = %(location)s AND r.transaction_code = 'B2'
        AND r.rx_number = f.rx_number AND r.fill_number = f.fill_number
        AND r.date_of_service = f.date_of_service
  );
