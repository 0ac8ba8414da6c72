-- A reversal marks its original claim reversed instead of deleting it, whichever of the two
-- arrived first (the staged batch holds either).
UPDATE claims_fill f SET status = 'reversed', updated_at = now()
FROM claims_fill r
WHERE f.location_id = %(location)s AND r.location_id = %(location)s
  AND r.transaction_code = 'B2' AND f.transaction_code = 'B1'
  AND f.rx_number = r.rx_number AND f.fill_number = r.fill_number
  AND f.date_of_service = r.date_of_service
  AND f.status <> 'reversed'
  AND EXISTS (SELECT 1 FROM pms_stage s WHERE s.rx_number = f.rx_number
              AND s.fill_number = f.fill_number AND s.date_of_service = f.date_of_service);
