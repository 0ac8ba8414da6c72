"""Write a `World` as files: PMS exports (canonical and vendor layouts), 835 remittances,
fee statements, NADAC and acquisition-cost files, clinical activity, ground truth and a
manifest. Byte-for-byte deterministic: no clocks, fixed ordering, fixed zip timestamps."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from demo.world.adherence_truth import pdc_results
from demo.world.catalog import DRUG_BY_NDC, PAYER_BY_KEY
from demo.world.model import Claim, Patient, Prescriber, World
from demo.world.payments import dir_by_claim, plb_recouped, remitted_by_claim
from demo.world.x12 import remittances_to_x12

CANONICAL_COLUMNS = (
    "pharmacy_ncpdp",
    "pharmacy_npi",
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "transaction_date",
    "claim_status",
    "patient_id",
    "patient_last_name",
    "patient_first_name",
    "patient_dob",
    "patient_sex",
    "patient_zip",
    "patient_phone",
    "med_sync_enrolled",
    "med_sync_day",
    "prescriber_npi",
    "prescriber_name",
    "ndc",
    "drug_name",
    "generic_name",
    "brand_generic",
    "quantity_dispensed",
    "days_supply",
    "daw_code",
    "bin",
    "pcn",
    "group_id",
    "cardholder_id",
    "plan_name",
    "usual_and_customary",
    "ingredient_cost_paid",
    "dispensing_fee_paid",
    "patient_pay_amount",
    "total_amount_paid",
    "basis_of_reimbursement",
    "acquisition_cost",
    "authorization_number",
)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def dollars_vendor(cents: int) -> str:
    """PioneerRx-style money: $1,234.56 and ($12.34) for negatives."""
    text = f"${abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    return f"({text})" if cents < 0 else text


def qty_text(q: Decimal) -> str:
    text = format(q.normalize(), "f")
    return text


def ndc_hyphenated(ndc: str) -> str:
    return f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}"


STATUS = {"B1": "paid", "B2": "reversed", "B3": "paid"}


def canonical_row(c: Claim, patient: Patient, prescriber: Prescriber, npi: str) -> dict[str, str]:
    drug = DRUG_BY_NDC[c.ndc]
    payer = PAYER_BY_KEY[c.payer]
    status = (
        "cash" if payer.plan_type == "cash" and c.transaction != "B2" else STATUS[c.transaction]
    )
    return {
        "pharmacy_ncpdp": c.location,
        "pharmacy_npi": npi,
        "rx_number": str(c.rx_number),
        "fill_number": str(c.fill_number),
        "date_of_service": c.date_of_service.isoformat(),
        "transaction_code": c.transaction,
        "transaction_date": c.transaction_date.isoformat(),
        "claim_status": status,
        "patient_id": patient.pms_id,
        "patient_last_name": patient.last_name,
        "patient_first_name": patient.first_name,
        "patient_dob": patient.dob.isoformat(),
        "patient_sex": patient.sex,
        "patient_zip": patient.zip,
        "patient_phone": patient.phone,
        "med_sync_enrolled": "Y" if patient.med_sync else "N",
        "med_sync_day": str(patient.sync_day or ""),
        "prescriber_npi": prescriber.npi,
        "prescriber_name": f"{prescriber.last_name}, {prescriber.first_name}",
        "ndc": c.ndc,
        "drug_name": drug.name,
        "generic_name": drug.generic_name,
        "brand_generic": "B" if drug.is_brand else "G",
        "quantity_dispensed": qty_text(c.quantity),
        "days_supply": str(c.days_supply),
        "daw_code": c.daw,
        "bin": payer.bin,
        "pcn": payer.pcn,
        "group_id": payer.group,
        "cardholder_id": patient.cardholder_id if payer.plan_type != "cash" else "",
        "plan_name": payer.name,
        "usual_and_customary": money(c.usual_customary_cents),
        "ingredient_cost_paid": money(c.ingredient_cost_paid_cents),
        "dispensing_fee_paid": money(c.dispensing_fee_paid_cents),
        "patient_pay_amount": money(c.patient_pay_cents),
        "total_amount_paid": money(c.total_paid_cents),
        "basis_of_reimbursement": c.basis_of_reimbursement,
        "acquisition_cost": money(c.acquisition_cost_cents),
        "authorization_number": c.authorization,
    }


def _us_date(d: str) -> str:
    y, m, dd = d.split("-")
    return f"{m}/{dd}/{y}"


def pioneerrx_row(r: dict[str, str]) -> list[str]:
    def m(name: str) -> str:
        return dollars_vendor(round(Decimal(r[name]) * 100))

    kind = {"B1": "Billed", "B2": "Reversed", "B3": "Rebilled"}[r["transaction_code"]]
    return [
        r["rx_number"],
        r["fill_number"],
        _us_date(r["date_of_service"]),
        kind,
        _us_date(r["transaction_date"]),
        r["patient_id"],
        f"{r['patient_last_name'].upper()}, {r['patient_first_name'].upper()}",
        _us_date(r["patient_dob"]),
        r["patient_sex"],
        r["patient_zip"],
        r["patient_phone"],
        "Yes" if r["med_sync_enrolled"] == "Y" else "No",
        r["med_sync_day"],
        r["prescriber_npi"],
        r["prescriber_name"],
        ndc_hyphenated(r["ndc"]),
        r["drug_name"],
        r["generic_name"],
        r["brand_generic"],
        r["quantity_dispensed"],
        r["days_supply"],
        r["daw_code"],
        r["bin"],
        r["pcn"],
        r["group_id"],
        r["cardholder_id"],
        r["plan_name"],
        m("usual_and_customary"),
        m("ingredient_cost_paid"),
        m("dispensing_fee_paid"),
        m("patient_pay_amount"),
        m("total_amount_paid"),
        r["basis_of_reimbursement"],
        m("acquisition_cost"),
        r["authorization_number"],
    ]


PIONEERRX_HEADER = [
    "Rx Number",
    "Fill #",
    "Date Filled",
    "Transaction",
    "Trans Date",
    "Patient ID",
    "Patient Name",
    "DOB",
    "Gender",
    "Zip",
    "Phone",
    "Med Sync",
    "Sync Day",
    "Prescriber NPI",
    "Prescriber",
    "NDC",
    "Drug",
    "Generic Name",
    "B/G",
    "Qty",
    "Days Supply",
    "DAW",
    "BIN",
    "PCN",
    "Group #",
    "Cardholder ID",
    "Third Party",
    "U&C",
    "Ingredient Cost Paid",
    "Dispensing Fee Paid",
    "Copay",
    "Third Party Paid",
    "Basis",
    "Acq Cost",
    "Auth #",
]

BESTRX_HEADER = [
    "RxNo",
    "RefillNo",
    "FillDate",
    "TxnType",
    "TxnDate",
    "PatientID",
    "LastName",
    "FirstName",
    "BirthDate",
    "Sex",
    "ZipCode",
    "PhoneNo",
    "MedSync",
    "SyncDay",
    "DoctorNPI",
    "DoctorName",
    "NDC11",
    "DrugName",
    "GenericName",
    "BrandGeneric",
    "QtyDispensed",
    "DaysSupply",
    "DAW",
    "BIN",
    "PCN",
    "GroupNo",
    "CardholderID",
    "PlanName",
    "UCPrice",
    "IngredientPaid",
    "DispFeePaid",
    "PatientPaid",
    "PlanPaid",
    "BasisCode",
    "AcqCost",
    "AuthNo",
]


def bestrx_row(r: dict[str, str]) -> list[str]:
    def ymd(d: str) -> str:
        return d.replace("-", "")

    def mdy(d: str) -> str:
        y, m, dd = d.split("-")
        return f"{int(m)}/{int(dd)}/{y}"

    return [
        r["rx_number"],
        r["fill_number"],
        ymd(r["date_of_service"]),
        r["transaction_code"],
        ymd(r["transaction_date"]),
        r["patient_id"],
        r["patient_last_name"],
        r["patient_first_name"],
        mdy(r["patient_dob"]),
        r["patient_sex"],
        r["patient_zip"],
        r["patient_phone"],
        r["med_sync_enrolled"],
        r["med_sync_day"],
        r["prescriber_npi"],
        r["prescriber_name"],
        f'="{r["ndc"]}"',
        r["drug_name"],
        r["generic_name"],
        r["brand_generic"],
        r["quantity_dispensed"],
        r["days_supply"],
        r["daw_code"],
        r["bin"],
        r["pcn"],
        r["group_id"],
        r["cardholder_id"],
        r["plan_name"],
        r["usual_and_customary"],
        r["ingredient_cost_paid"],
        r["dispensing_fee_paid"],
        r["patient_pay_amount"],
        r["total_amount_paid"],
        r["basis_of_reimbursement"],
        r["acquisition_cost"],
        r["authorization_number"],
    ]


LIBERTY_HEADER = [
    "Script",
    "Refill",
    "Service Date",
    "Type",
    "Posted",
    "Pt #",
    "Patient Last",
    "Patient First",
    "Birth Date",
    "Sex",
    "Zip",
    "Phone",
    "Sync",
    "Sync Day",
    "Prescriber NPI",
    "Prescriber",
    "NDC",
    "Drug Description",
    "Generic",
    "Brand/Generic",
    "Quantity",
    "Days",
    "DAW",
    "BIN",
    "PCN",
    "Group",
    "Cardholder",
    "Plan",
    "U&C Price",
    "Ingredient Paid",
    "Fee Paid",
    "Patient Paid",
    "Plan Paid",
    "Basis",
    "Acquisition Cost",
    "Authorization",
]


def liberty_row(r: dict[str, str]) -> list[Any]:
    def d(text: str) -> date:
        return date.fromisoformat(text)

    def m(name: str) -> Decimal:
        return Decimal(r[name])

    kind = {"B1": "Original", "B2": "Reversal", "B3": "Rebill"}[r["transaction_code"]]
    return [
        int(r["rx_number"]),
        int(r["fill_number"]),
        d(r["date_of_service"]),
        kind,
        d(r["transaction_date"]),
        r["patient_id"],
        r["patient_last_name"],
        r["patient_first_name"],
        d(r["patient_dob"]),
        r["patient_sex"],
        r["patient_zip"],
        r["patient_phone"],
        r["med_sync_enrolled"],
        r["med_sync_day"],
        r["prescriber_npi"],
        r["prescriber_name"],
        ndc_hyphenated(r["ndc"]),
        r["drug_name"],
        r["generic_name"],
        "Brand" if r["brand_generic"] == "B" else "Generic",
        Decimal(r["quantity_dispensed"]),
        int(r["days_supply"]),
        r["daw_code"],
        r["bin"],
        r["pcn"],
        r["group_id"],
        r["cardholder_id"],
        r["plan_name"],
        m("usual_and_customary"),
        m("ingredient_cost_paid"),
        m("dispensing_fee_paid"),
        m("patient_pay_amount"),
        m("total_amount_paid"),
        r["basis_of_reimbursement"],
        m("acquisition_cost"),
        r["authorization_number"],
    ]


VENDOR_LAYOUTS: dict[str, tuple[str, list[str], Callable[[dict[str, str]], list[Any]]]] = {
    "pioneerrx": ("csv", PIONEERRX_HEADER, pioneerrx_row),
    "bestrx": ("csv", BESTRX_HEADER, bestrx_row),
    "liberty": ("xlsx", LIBERTY_HEADER, liberty_row),
}

FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, crlf: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def xlsx_bytes(sheet: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """An XLSX whose bytes depend only on its content: fixed document properties and
    fixed timestamps on every zip member."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "RxRevOps demo world"
    ws = wb.create_sheet(sheet)
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            data = src.read(name)
            if name == "docProps/core.xml":
                data = _fixed_core_properties(data)
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    return out.getvalue()


def _fixed_core_properties(xml: bytes) -> bytes:
    import re

    return re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", xml)


class Output:
    """Writes files under `root` and records each one for the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[dict[str, Any]] = []

    def write(self, rel: str, data: bytes, **meta: Any) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries.append(
            {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), **meta}
        )


def write_world(world: World, out: Path) -> dict[str, Any]:
    """Write every file of the world under `out`; returns the manifest (also written)."""
    o = Output(out)
    _write_chain(world, o)
    _write_pms(world, o)
    _write_remittances(world, o)
    _write_fees(world, o)
    _write_costs(world, o)
    _write_clinical(world, o)
    _write_truth(world, o)
    manifest = {
        "generator": "rxrevops demo_data",
        "seed": world.seed,
        "scale": world.scale,
        "year": world.year,
        "as_of": world.as_of.isoformat(),
        "organization": world.organization,
        "counts": {
            "locations": len(world.locations),
            "patients": len(world.patients),
            "claims": len(world.claims),
            "remittances": len(world.remittances),
            "remit_claims": sum(len(r.claims) for r in world.remittances),
            "fee_lines": len(world.fees),
        },
        "files": sorted(o.entries, key=lambda e: e["path"]),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _write_chain(world: World, o: Output) -> None:
    chain = {
        "organization": world.organization,
        "locations": [
            {
                "ncpdp": loc.ncpdp,
                "npi": loc.npi,
                "name": loc.name,
                "street": loc.street,
                "city": loc.city,
                "state": loc.state,
                "zip": loc.zip,
                "pms_vendor": loc.pms_vendor,
            }
            for loc in world.locations
        ],
        "payers": [
            {
                "key": p.key,
                "name": p.name,
                "bin": p.bin,
                "pcn": p.pcn,
                "group": p.group,
                "plan_type": p.plan_type,
                "contract": p.contract,
                "payer_id": p.payer_id,
            }
            for p in world.payers
        ],
    }
    o.write(
        "chain.json",
        (json.dumps(chain, indent=2) + "\n").encode(),
        kind="chain",
        rows=len(world.locations),
    )


def _write_pms(world: World, o: Output) -> None:
    patients = {(p.location, p.pms_id): p for p in world.patients}
    prescribers = {p.npi: p for p in world.prescribers}
    npis = {loc.ncpdp: loc.npi for loc in world.locations}
    vendor = {loc.ncpdp: loc.pms_vendor for loc in world.locations}
    months: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for c in world.claims:
        period = f"{c.transaction_date:%Y-%m}"  # exports are by the day the row was posted
        months[(c.location, period)].append(
            canonical_row(
                c,
                patients[(c.location, c.patient_id)],
                prescribers[c.prescriber_npi],
                npis[c.location],
            )
        )
    for (loc, period), rows in sorted(months.items()):
        meta = {
            "location": loc,
            "period": period,
            "rows": len(rows),
            "claims": sum(1 for r in rows if r["transaction_code"] != "B2"),
        }
        o.write(
            f"pms/{loc}/pms-{loc}-{period}.csv",
            csv_bytes(CANONICAL_COLUMNS, ([r[k] for k in CANONICAL_COLUMNS] for r in rows)),
            kind="pms",
            layout="canonical",
            **meta,
        )
        layout = vendor[loc]
        ext, header, convert = VENDOR_LAYOUTS[layout]
        rel = f"pms-vendor/{loc}/{layout}-{loc}-{period}.{ext}"
        converted = (convert(r) for r in rows)
        data = (
            xlsx_bytes("Dispensing Report", header, converted)
            if ext == "xlsx"
            else csv_bytes(header, converted, crlf=layout == "pioneerrx")
        )
        o.write(rel, data, kind="pms", layout=layout, **meta)


def _write_remittances(world: World, o: Output) -> None:
    locations = {loc.ncpdp: loc for loc in world.locations}
    by_cycle: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for remit in world.remittances:
        by_cycle[(remit.payer, remit.payment_date)].append(remit)
    for control, ((payer_key, day), remits) in enumerate(sorted(by_cycle.items()), start=1):
        payer = PAYER_BY_KEY[payer_key]
        data = remittances_to_x12(
            sorted(remits, key=lambda r: r.location),
            payer=payer,
            locations=locations,
            interchange_control=control,
        )
        o.write(
            f"remits/{payer_key}/835-{payer_key}-{day:%Y%m%d}.edi",
            data,
            kind="remit_835",
            payer=payer_key,
            period=day.isoformat(),
            delimiters=payer.delimiters,
            transactions=len(remits),
            claims=sum(len(r.claims) for r in remits),
            paid_cents=sum(r.paid_cents for r in remits),
        )


FEE_HEADER = (
    "statement_date",
    "payer_name",
    "bin",
    "pcn",
    "group_id",
    "pharmacy_ncpdp",
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "authorization_number",
    "fee_type",
    "fee_amount",
)


def _write_fees(world: World, o: Output) -> None:
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for f in world.fees:
        groups[(f.payer, f.statement_date)].append(f)
    for (payer_key, day), lines in sorted(groups.items()):
        payer = PAYER_BY_KEY[payer_key]
        rows = [
            (
                day.isoformat(),
                payer.name,
                payer.bin,
                payer.pcn,
                payer.group,
                f.claim_key[0],
                f.claim_key[1],
                f.claim_key[2],
                f.claim_key[3].isoformat(),
                f.claim_key[4],
                f.authorization,
                f.fee_type,
                money(f.amount_cents),
            )
            for f in lines
        ]
        o.write(
            f"fees/{payer_key}/fees-{payer_key}-{day:%Y%m%d}.csv",
            csv_bytes(FEE_HEADER, rows),
            kind="fee_statement",
            payer=payer_key,
            period=day.isoformat(),
            rows=len(rows),
        )


NADAC_HEADER = (
    "NDC Description",
    "NDC",
    "NADAC Per Unit",
    "Effective Date",
    "Pricing Unit",
    "Pharmacy Type Indicator",
    "OTC",
    "Explanation Code",
    "Classification for Rate Setting",
    "Corresponding Generic Drug NADAC Per Unit",
    "Corresponding Generic Drug Effective Date",
    "As of Date",
)
INVOICE_HEADER = (
    "invoice_number",
    "invoice_date",
    "account_ncpdp",
    "ndc",
    "description",
    "package_size",
    "packages",
    "unit_cost",
    "extended_cost",
)


def _write_costs(world: World, o: Output) -> None:
    as_of = world.as_of.strftime("%m/%d/%Y")
    rows = [
        (
            DRUG_BY_NDC[n.ndc].name.upper(),
            n.ndc,
            format(n.per_unit, "f"),
            n.effective.strftime("%m/%d/%Y"),
            DRUG_BY_NDC[n.ndc].unit,
            "C/I",
            "N",
            "1",
            "B" if DRUG_BY_NDC[n.ndc].is_brand else "G",
            "",
            "",
            as_of,
        )
        for n in world.nadac
    ]
    o.write(
        f"costs/nadac-{world.year}.csv", csv_bytes(NADAC_HEADER, rows), kind="nadac", rows=len(rows)
    )
    by_file: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for line in world.invoices:
        by_file[(line.location, f"{line.invoice_date:%Y-%m}")].append(line)
    for (loc, period), lines in sorted(by_file.items()):
        invoice_rows: list[tuple[Any, ...]] = []
        for ln in lines:
            units = ln.packages * ln.package_size
            extended = (ln.unit_cost * units).quantize(Decimal("0.01"))
            invoice_rows.append(
                (
                    ln.invoice_number,
                    ln.invoice_date.isoformat(),
                    loc,
                    ln.ndc,
                    DRUG_BY_NDC[ln.ndc].name,
                    ln.package_size,
                    ln.packages,
                    format(ln.unit_cost, "f"),
                    format(extended, "f"),
                )
            )
        o.write(
            f"costs/acquisition/{loc}/invoices-{loc}-{period}.csv",
            csv_bytes(INVOICE_HEADER, invoice_rows),
            kind="acquisition",
            location=loc,
            period=period,
            rows=len(invoice_rows),
        )


def _write_clinical(world: World, o: Output) -> None:
    imm = [
        (
            i.location,
            i.patient_id,
            i.administered.isoformat(),
            i.cvx,
            i.mvx,
            i.vaccine,
            i.lot,
            i.expiration.isoformat(),
            format(i.dose_ml, "f"),
            i.site,
            i.route,
            i.vis_date.isoformat(),
            i.pharmacist_npi,
            i.funding,
            money(i.billed_cents),
        )
        for i in world.immunizations
    ]
    o.write(
        "clinical/immunizations.csv",
        csv_bytes(
            (
                "pharmacy_ncpdp",
                "patient_id",
                "administered_on",
                "cvx",
                "mvx",
                "vaccine",
                "lot",
                "lot_expiration",
                "dose_ml",
                "site",
                "route",
                "vis_date",
                "pharmacist_npi",
                "funding_eligibility",
                "billed_amount",
            ),
            imm,
        ),
        kind="clinical_immunizations",
        rows=len(imm),
    )
    mtm = [
        (
            e.location,
            e.patient_id,
            e.kind,
            e.when.isoformat(),
            e.minutes,
            e.pharmacist_npi,
            e.cpt,
            money(e.billed_cents),
        )
        for e in world.mtm
    ]
    o.write(
        "clinical/mtm.csv",
        csv_bytes(
            (
                "pharmacy_ncpdp",
                "patient_id",
                "activity",
                "date",
                "minutes",
                "pharmacist_npi",
                "cpt",
                "billed_amount",
            ),
            mtm,
        ),
        kind="clinical_mtm",
        rows=len(mtm),
    )


def _write_truth(world: World, o: Output) -> None:
    remitted = remitted_by_claim(world.remittances)
    dir_fees = dir_by_claim(world.remittances)
    recouped = plb_recouped(world.remittances)
    fees: dict[Any, int] = defaultdict(int)
    for f in world.fees:
        fees[f.claim_key] += f.amount_cents
    rows = []
    for c in world.claims:
        k = c.key
        rows.append(
            (
                c.location,
                c.rx_number,
                c.fill_number,
                c.date_of_service.isoformat(),
                c.transaction,
                c.payer,
                money(c.total_paid_cents),
                money(c.patient_pay_cents),
                money(c.acquisition_cost_cents),
                money(remitted.get(k, 0)),
                money(recouped.get(c.authorization, 0) if c.transaction != "B2" else 0),
                money(dir_fees.get(k, 0)),
                money(fees.get(k, 0)),
                world.truth[k],
            )
        )
    o.write(
        "truth/claims.csv",
        csv_bytes(
            (
                "pharmacy_ncpdp",
                "rx_number",
                "fill_number",
                "date_of_service",
                "transaction_code",
                "payer",
                "plan_paid_adjudicated",
                "patient_pay",
                "acquisition_cost",
                "remitted",
                "recouped_by_plb",
                "dir_on_remit",
                "statement_fees",
                "expected_status",
            ),
            rows,
        ),
        kind="truth_claims",
        rows=len(rows),
    )
    pdc = [
        (
            r.location,
            r.patient_id,
            r.measure,
            r.status,
            r.index_date.isoformat() if r.index_date else "",
            r.period_end.isoformat(),
            r.days_in_period,
            r.covered_days,
            _four_places(r.pdc) if r.pdc is not None else "",
            f"{r.pdc.numerator}/{r.pdc.denominator}" if r.pdc is not None else "",
            {True: "Y", False: "N", None: ""}[r.adherent],
        )
        for r in pdc_results(world.claims, year=world.year, as_of=world.as_of)
    ]
    o.write(
        "truth/pdc.csv",
        csv_bytes(
            (
                "pharmacy_ncpdp",
                "patient_id",
                "measure",
                "status",
                "index_date",
                "period_end",
                "days_in_period",
                "covered_days",
                "pdc",
                "pdc_exact",
                "adherent",
            ),
            pdc,
        ),
        kind="truth_pdc",
        rows=len(pdc),
    )


def _four_places(value: Any) -> str:
    """A Fraction as a 4-place decimal string, without going through float."""
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001")))


def clear_world(out: Path) -> int:
    """Remove the files an earlier `write_world` left in `out` (as its manifest lists them),
    so a new world never mixes with an old one. Other files are left alone."""
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        return 0
    entries = json.loads(manifest_path.read_text()).get("files", [])
    root = out.resolve()
    for entry in entries:
        target = (out / entry["path"]).resolve()
        if target.is_relative_to(root):  # a manifest never reaches outside its folder
            target.unlink(missing_ok=True)
    manifest_path.unlink()
    for folder in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return len(entries)
