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
    row_hash text  -- md5 of every loaded value (claims.ingest.normalize.row_hashes)
) ON COMMIT DROP;
