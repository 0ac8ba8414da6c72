"""Where care-gap history comes from: other apps register sources, adherence reads them.

Adherence must not import the app that records immunizations and CMRs (clinical sits beside
it), so that app registers a function here and the worklist build asks every registered
source. With no source registered, nothing is known beyond the fills and every gap says
"no dose recorded".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from adherence.caregaps import Dose

# (organization id) -> doses, with `Dose.patient` the patient's primary key as text
ImmunizationSource = Callable[[int], Iterable[Dose]]
# (organization id, year) -> {patient primary key as text: date of the last CMR}
CmrSource = Callable[[int, int], dict[str, date]]

_IMMUNIZATION_SOURCES: list[ImmunizationSource] = []
_CMR_SOURCES: list[CmrSource] = []


def immunization_source_register(source: ImmunizationSource) -> ImmunizationSource:
    if source not in _IMMUNIZATION_SOURCES:
        _IMMUNIZATION_SOURCES.append(source)
    return source


def cmr_source_register(source: CmrSource) -> CmrSource:
    if source not in _CMR_SOURCES:
        _CMR_SOURCES.append(source)
    return source


def immunization_history(organization_id: int) -> list[Dose]:
    return [d for source in _IMMUNIZATION_SOURCES for d in source(organization_id)]


def cmr_history(organization_id: int, year: int) -> dict[str, date]:
    done: dict[str, date] = {}
    for source in _CMR_SOURCES:
        for patient, when in source(organization_id, year).items():
            done[patient] = max(when, done.get(patient, when))
    return done
