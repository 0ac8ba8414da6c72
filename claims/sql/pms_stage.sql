-- One batch of normalized PMS rows, loaded with COPY, gone at commit.
CREATE TEMP TABLE pms_stage (
    line integer,
    rx_number bigint, fill_number integer, date_of_service date, transaction_code text,
    transaction_date date, patient_id text, patient_last_name text, patient_first_name text,
    patient_dob date, patient_sex text, patient_zip text, patient_phone text,
    med_sync_enrolled boolean, med_sync_day integer, prescriber_npi text, prescriber_name text,
    ndc text, drug_name text, generic_name text, brand_generic text,
    quantity_dispensed numeric(12, 3), days_supply integer, daw_code text, bin text, pcn text,
    group_id text, cardholder_id text, plan_name text,
    usual_and_customary_cents bigint, ingredient_cost_paid_cents bigint,
    dispensing_fee_paid_cents bigint, patient_pay_amount_cents bigint,
    total_amount_paid_cents bigint, acquisition_cost_cents bigint,
    basis_of_reimbursement text, authorization_number text,
    -- md5 of every loaded value, computed as the row is copied in: a stored fill with the
    -- same key and hash is unchanged. Written with immutable casts only (a date as its day
    -- number, not as text that depends on DateStyle), as a generated column requires.
    row_hash text GENERATED ALWAYS AS (md5(
        rx_number::text || '|' || fill_number::text || '|'
        || (date_of_service - DATE '2000-01-01')::text || '|' || transaction_code || '|'
        || coalesce((transaction_date - DATE '2000-01-01')::text, '') || '|'
        || patient_id || '|' || patient_last_name || '|' || patient_first_name || '|'
        || coalesce((patient_dob - DATE '2000-01-01')::text, '') || '|'
        || patient_sex || '|' || patient_zip || '|' || patient_phone || '|'
        || med_sync_enrolled::int::text || '|' || coalesce(med_sync_day::text, '') || '|'
        || prescriber_npi || '|' || prescriber_name || '|' || ndc || '|' || drug_name || '|'
        || generic_name || '|' || brand_generic || '|' || quantity_dispensed::text || '|'
        || days_supply::text || '|' || daw_code || '|' || bin || '|' || pcn || '|'
        || group_id || '|' || cardholder_id || '|' || plan_name || '|'
        || usual_and_customary_cents::text || '|' || ingredient_cost_paid_cents::text || '|'
        || dispensing_fee_paid_cents::text || '|' || patient_pay_amount_cents::text || '|'
        || total_amount_paid_cents::text || '|' || acquisition_cost_cents::text || '|'
        || basis_of_reimbursement || '|' || authorization_number
    )) STORED
) ON COMMIT DROP;
