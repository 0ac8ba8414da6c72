-- Upsert one staged batch into the real tables for store %(location)s, what is left of it
-- after pms_drop_unchanged.sql: reference rows (drugs, prescribers, plans), patients,
-- prescriptions, fills.

-- Reference rows: only for codes not known yet (or a drug still without a name).
INSERT INTO claims_drug (ndc, name, generic_name, is_brand, adherence_class)
SELECT DISTINCT ON (ndc) ndc, drug_name, generic_name, brand_generic = 'B', ''
FROM pms_stage s
WHERE NOT EXISTS (SELECT 1 FROM claims_drug d WHERE d.ndc = s.ndc AND d.name <> '')
ORDER BY ndc, transaction_date DESC
ON CONFLICT (ndc) DO UPDATE SET name = EXCLUDED.name, generic_name = EXCLUDED.generic_name,
    is_brand = EXCLUDED.is_brand
WHERE claims_drug.name = '' AND EXCLUDED.name <> '';

INSERT INTO claims_prescriber (npi, name)
SELECT DISTINCT ON (prescriber_npi) prescriber_npi, prescriber_name
FROM pms_stage s
WHERE prescriber_npi <> ''
  AND NOT EXISTS (SELECT 1 FROM claims_prescriber p WHERE p.npi = s.prescriber_npi)
ORDER BY prescriber_npi, transaction_date DESC
ON CONFLICT (npi) DO NOTHING;

INSERT INTO claims_plan (bin, pcn, "group", name, contract_type)
SELECT DISTINCT ON (bin, pcn, group_id) bin, pcn, group_id, plan_name, ''
FROM pms_stage s
WHERE bin <> '' AND NOT EXISTS (
    SELECT 1 FROM claims_plan p WHERE p.bin = s.bin AND p.pcn = s.pcn AND p."group" = s.group_id
)
ORDER BY bin, pcn, group_id, transaction_date DESC
ON CONFLICT (bin, pcn, "group") DO NOTHING;

INSERT INTO claims_patient (location_id, pms_patient_id, first_name, last_name, date_of_birth,
    phone, sex, postal_code, med_sync_enrolled, med_sync_day, created_at, updated_at)
SELECT DISTINCT ON (patient_id) %(location)s, patient_id, patient_first_name,
    patient_last_name, patient_dob, patient_phone, patient_sex, patient_zip,
    med_sync_enrolled, med_sync_day, now(), now()
FROM pms_stage ORDER BY patient_id, transaction_date DESC, line DESC
ON CONFLICT (location_id, pms_patient_id) DO UPDATE SET
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
    date_of_birth = EXCLUDED.date_of_birth, phone = EXCLUDED.phone, sex = EXCLUDED.sex,
    postal_code = EXCLUDED.postal_code, med_sync_enrolled = EXCLUDED.med_sync_enrolled,
    med_sync_day = EXCLUDED.med_sync_day, updated_at = now()
WHERE (claims_patient.first_name, claims_patient.last_name, claims_patient.date_of_birth,
       claims_patient.phone, claims_patient.sex, claims_patient.postal_code,
       claims_patient.med_sync_enrolled, claims_patient.med_sync_day)
   IS DISTINCT FROM
      (EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.date_of_birth, EXCLUDED.phone,
       EXCLUDED.sex, EXCLUDED.postal_code, EXCLUDED.med_sync_enrolled, EXCLUDED.med_sync_day);

-- The batch joins this store's patients and prescriptions, rows this same transaction may
-- have just inserted: the planner's statistics cannot know them and would guess one row,
-- and a nested loop over a guessed single row rescans the whole batch once per patient.
-- Hash joins are right for a batch of any size against a store of any size.
SET LOCAL enable_nestloop = off;

INSERT INTO claims_prescription (location_id, rx_number, patient_id, prescriber_id, drug_id)
SELECT DISTINCT ON (s.rx_number) %(location)s, s.rx_number, p.id, pr.id, d.id
FROM pms_stage s
JOIN claims_patient p ON p.location_id = %(location)s AND p.pms_patient_id = s.patient_id
JOIN claims_drug d ON d.ndc = s.ndc
LEFT JOIN claims_prescriber pr ON pr.npi = s.prescriber_npi
ORDER BY s.rx_number, s.date_of_service DESC, s.line DESC
ON CONFLICT (location_id, rx_number) DO UPDATE SET patient_id = EXCLUDED.patient_id,
    prescriber_id = EXCLUDED.prescriber_id, drug_id = EXCLUDED.drug_id
WHERE (claims_prescription.patient_id, claims_prescription.prescriber_id,
       claims_prescription.drug_id)
   IS DISTINCT FROM (EXCLUDED.patient_id, EXCLUDED.prescriber_id, EXCLUDED.drug_id);

WITH loaded AS (
    INSERT INTO claims_fill AS f (location_id, rx_number, fill_number, date_of_service,
        transaction_code, transaction_date, status, prescription_id, patient_id, drug_id,
        plan_id, quantity, days_supply, daw_code, cardholder_id, usual_customary_cents,
        ingredient_cost_paid_cents, dispensing_fee_paid_cents, patient_pay_cents,
        total_paid_cents, acquisition_cost_cents, basis_of_reimbursement,
        authorization_number, row_hash, source_job_id, updated_at)
    SELECT %(location)s, s.rx_number, s.fill_number, s.date_of_service, s.transaction_code,
        s.transaction_date,
        -- a B1 whose reversal is in this batch or already stored arrives reversed
        -- (pms_mark_reversed.sql handles a reversal arriving after its bill). The stored
        -- reversal is looked up per bill through the real-world key index: as EXISTS the
        -- planner may hash every reversal of the store (or of every store) for each batch.
        CASE WHEN s.transaction_code = 'B2' THEN 'reversed'
             WHEN s.transaction_code = 'B1'
                  AND (s.rx_number, s.fill_number, s.date_of_service) IN (
                      SELECT rx_number, fill_number, date_of_service FROM pms_stage
                      WHERE transaction_code = 'B2') THEN 'reversed'
             WHEN s.transaction_code = 'B1' AND (
                 SELECT true FROM claims_fill r
                 WHERE r.location_id = %(location)s AND r.rx_number = s.rx_number
                   AND r.fill_number = s.fill_number AND r.date_of_service = s.date_of_service
                   AND r.transaction_code = 'B2') THEN 'reversed'
             WHEN s.bin = '' THEN 'cash' ELSE 'paid' END,
        rx.id, p.id, d.id, pl.id, s.quantity_dispensed, s.days_supply, s.daw_code,
        s.cardholder_id, s.usual_and_customary_cents, s.ingredient_cost_paid_cents,
        s.dispensing_fee_paid_cents, s.patient_pay_amount_cents, s.total_amount_paid_cents,
        s.acquisition_cost_cents, s.basis_of_reimbursement, s.authorization_number,
        s.row_hash,
        %(job)s, now()
    FROM pms_stage s
    JOIN claims_prescription rx ON rx.location_id = %(location)s AND rx.rx_number = s.rx_number
    JOIN claims_patient p ON p.location_id = %(location)s AND p.pms_patient_id = s.patient_id
    JOIN claims_drug d ON d.ndc = s.ndc
    LEFT JOIN claims_plan pl ON pl.bin = s.bin AND pl.pcn = s.pcn AND pl."group" = s.group_id
                             AND s.bin <> ''
    -- one order for every import: concurrent imports of overlapping rows lock them in the
    -- same sequence and wait for each other instead of deadlocking
    ORDER BY s.rx_number, s.fill_number, s.date_of_service, s.transaction_code
    ON CONFLICT (location_id, rx_number, fill_number, date_of_service, transaction_code)
    DO UPDATE SET transaction_date = EXCLUDED.transaction_date, status = EXCLUDED.status,
        prescription_id = EXCLUDED.prescription_id, patient_id = EXCLUDED.patient_id,
        drug_id = EXCLUDED.drug_id, plan_id = EXCLUDED.plan_id, quantity = EXCLUDED.quantity,
        days_supply = EXCLUDED.days_supply, daw_code = EXCLUDED.daw_code,
        cardholder_id = EXCLUDED.cardholder_id,
        usual_customary_cents = EXCLUDED.usual_customary_cents,
        ingredient_cost_paid_cents = EXCLUDED.ingredient_cost_paid_cents,
        dispensing_fee_paid_cents = EXCLUDED.dispensing_fee_paid_cents,
        patient_pay_cents = EXCLUDED.patient_pay_cents,
        total_paid_cents = EXCLUDED.total_paid_cents,
        acquisition_cost_cents = EXCLUDED.acquisition_cost_cents,
        basis_of_reimbursement = EXCLUDED.basis_of_reimbursement,
        authorization_number = EXCLUDED.authorization_number, row_hash = EXCLUDED.row_hash,
        source_job_id = EXCLUDED.source_job_id, updated_at = now()
    WHERE f.row_hash <> EXCLUDED.row_hash
    RETURNING id, (xmax = 0) AS inserted, rx_number, fill_number, date_of_service,
        transaction_code
)
-- the push API answers per item: with %(with_ids)s also [line, fill id, 1 if created else 0]
-- of every row written (the batch's keys are unique: normalize() quarantines repeats)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    CASE WHEN %(with_ids)s THEN (
        SELECT array_agg(ARRAY[s.line, l.id, l.inserted::int])
        FROM loaded l
        JOIN pms_stage s ON s.rx_number = l.rx_number AND s.fill_number = l.fill_number
            AND s.date_of_service = l.date_of_service
            AND s.transaction_code = l.transaction_code) END
FROM loaded;
