"""The demo chain's clinical side: value-based plans and contracts, a state registry (the
app's own sandbox), and a pharmacist's recent MTM work — signed CMRs with their take-aways,
a draft, a follow-up due, point-of-care tests and some claims already paid.

Everything goes through the same services a pharmacist's clicks do. It runs once per demo
organization: a re-seed finds the encounters there and leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.models import User

from adherence.models import WorklistItem
from claims.models import Patient, Plan
from clinical.models import ClinicalClaim, Encounter, ImmunizationRegistry
from clinical.services.billing import clinical_claim_update, poc_test_record
from clinical.services.contracts import demo_contracts_create
from clinical.services.encounters import encounter_save, encounter_sign, encounter_start
from demo.world.catalog import PAYERS
from rxrevops.models import Location, Organization

# the app answers VXUs itself when IMMUNIZATION_REGISTRY_SANDBOX is on (`make demo` turns it on)
SANDBOX_URL = "http://127.0.0.1:8000/clinical/registry-sandbox/"
STATE_REGISTRIES = {"IA": "Iowa IRIS", "NE": "Nebraska NESIIS", "MN": "Minnesota MIIC"}


@dataclass(frozen=True)
class ClinicalSeed:
    contracts: int
    registries: int
    cmrs_signed: int
    tmrs_signed: int
    drafts: int
    poc_tests: int


def demo_plans_classify() -> int:
    """Mark the plans the world's payers run as value-based (a PMS export does not say)."""
    marked = 0
    for payer in PAYERS:
        if payer.contract == "value_based":
            marked += Plan.objects.filter(bin=payer.bin, pcn=payer.pcn).update(
                contract_type="value_based"
            )
    return marked


def demo_registries_create(organization: Organization) -> int:
    """One registry per state the stores are in, all pointing at the app's sandbox."""
    states = sorted(
        set(Location.objects.filter(organization=organization).values_list("state", flat=True))
        - {""}
    )
    for state in states:
        ImmunizationRegistry.objects.update_or_create(
            organization=organization,
            state=state,
            defaults={
                "name": f"{STATE_REGISTRIES.get(state, state + ' IIS')} (sandbox)",
                "endpoint_url": SANDBOX_URL,
                "receiving_application": "IIS",
                "receiving_facility": f"{state}IIS",
                "processing_id": "T",
                "enabled": True,
            },
        )
    return len(states)


_PROBLEMS = [
    {
        "reason_code": "SC",
        "service_code": "PE",
        "result_code": "3M",
        "talked_about": "You sometimes miss evening doses when your routine changes.",
        "patient_action": "Use the weekly pill box we set up; keep it by the toothbrush.",
    },
    {
        "reason_code": "SE",
        "service_code": "M0",
        "result_code": "3E",
        "talked_about": "Muscle aches since the statin dose went up.",
        "patient_action": "Your doctor changed the statin; call us if the aches come back.",
    },
    {
        "reason_code": "PH",
        "service_code": "PE",
        "result_code": "3K",
        "talked_about": "You are due for this season's flu shot.",
        "patient_action": "Get the flu shot at your next pickup (no appointment needed).",
    },
]


def _document(
    *,
    pharmacist: User,
    patient: Patient,
    item: WorklistItem | None,
    held_on: date,
    n: int,
    kind: str = "cmr",
) -> Encounter:
    enc = encounter_start(
        user=pharmacist,
        patient=patient,
        kind=kind,
        worklist_item=item if kind == "cmr" else None,
        today=held_on,
    )
    meds = [
        {
            "source": m.source,
            "name": m.name,
            "ndc": m.ndc,
            "prescriber": m.prescriber,
            "started_on": m.started_on,
            "how_used": "1 tablet by mouth daily",
        }
        for m in enc.medications.all()
    ]
    meds.append({"source": "otc", "name": "Vitamin D3 1000 IU", "how_used": "1 daily"})
    return encounter_save(
        user=pharmacist,
        encounter=enc,
        fields={
            "held_on": held_on,
            "mode": "phone" if n % 2 else "in_person",
            "minutes": 25 + 10 * (n % 3),
            "allergies": "Penicillin (rash)",
            "subjective": "Feels well; reports occasional missed doses.",
            "objective": "Fills on time except one late statin refill this year.",
            "assessment": "Adherence barrier: evening routine. Statin-associated myalgia.",
            "plan": "Pill box and 90-day fills; statin switch agreed with the prescriber.",
            "prescriber_contact": "fax",
            "prescriber_note": "Faxed the statin recommendation; accepted.",
        },
        medications=meds,
        problems=_PROBLEMS[: 1 + n % 3],
    )


def demo_clinical_seed(
    *, organization: Organization, pharmacist: User, owner: User, as_of: date
) -> ClinicalSeed | None:
    """Contracts, registries and a pharmacist's recent MTM work; None when already done."""
    demo_plans_classify()
    contracts = demo_contracts_create(organization)
    registries = demo_registries_create(organization)
    if Encounter.objects.filter(organization=organization).exists():
        return None
    store_ids = list(
        Location.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # the pharmacist's store first: that is what the demo pharmacist sees
    due = list(
        WorklistItem.objects.filter(
            organization=organization,
            status=WorklistItem.Status.OPEN,
            code__startswith="cmr:",
        )
        .select_related("patient")
        .order_by("location_id", "-value_cents", "pk")
    )
    own = [i for i in due if i.location_id == store_ids[0]]
    # the pharmacist also follows up patients at risk on a PDC measure with targeted reviews
    at_risk = list(
        WorklistItem.objects.filter(
            organization=organization,
            location_id=store_ids[0],
            status=WorklistItem.Status.OPEN,
            kind=WorklistItem.Kind.REFILL,
        )
        .select_related("patient")
        .order_by("-value_cents", "pk")[:3]
    )
    signed = tmrs = drafts = 0
    work = [("cmr", i) for i in own[:3]] + [("tmr", i) for i in at_risk]
    for n, (kind, item) in enumerate(work):
        last = n == len(work) - 1 and n > 0
        held = as_of if last else as_of - timedelta(days=3 * n + 1)
        enc = _document(
            pharmacist=pharmacist, patient=item.patient, item=item, held_on=held, n=n, kind=kind
        )
        if last:  # one review still being written
            drafts += 1
            continue
        if n == 0:
            enc = encounter_save(
                user=pharmacist,
                encounter=enc,
                fields={"follow_up_on": as_of + timedelta(days=2), "follow_up_note": "BP check"},
            )
        encounter_sign(user=pharmacist, encounter=enc)
        signed += kind == "cmr"
        tmrs += kind == "tmr"
    tests = 0
    patients = list(Patient.objects.filter(location_id=store_ids[0]).order_by("pk")[:4])
    tests_done = (
        ("a1c", "7.2%"),
        ("flu", "Negative"),
        ("strep", "Positive"),
        ("covid", "Negative"),
    )
    for (kind, result), patient in zip(tests_done, patients, strict=False):
        poc_test_record(
            user=pharmacist, patient=patient, kind=kind, performed_on=as_of, result=result
        )
        tests += 1
    # the revenue team has posted some payments already
    for claim in ClinicalClaim.objects.filter(organization=organization).order_by("pk")[::3]:
        clinical_claim_update(
            user=owner, claim=claim, status="paid", paid_cents=claim.billed_cents * 85 // 100
        )
    return ClinicalSeed(
        contracts=len(contracts),
        registries=registries,
        cmrs_signed=signed,
        tmrs_signed=tmrs,
        drafts=drafts,
        poc_tests=tests,
    )
