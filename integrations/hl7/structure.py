"""Segment order and cardinality of a message, checked against hl7apy's HL7 v2.5.1 message
structures (`hl7apy.v2_5_1.messages.MESSAGES`: RDS_O13, VXU_V04, ADT_A01, which ADT^A08
uses per table 0354).

Why not `hl7apy.parser.parse_message` on every message: it costs ~14 ms for one VXU on this
machine (measured, find_groups on or off), which caps a listener at ~70 messages/s where the
issue asks for 500. So the fields are read by the plain segment reader of
`clinical.hl7.ack` (microseconds), and hl7apy supplies what it is good at and we should not
retype: the standard's structure definitions. They are compiled once into a tree, and a
message's segment ids are matched against it by a small set-of-positions matcher (every
way the groups can repeat is followed at once; no backtracking blow-up). When the message
does not fit, the error names the first segment that cannot be placed and the segments the
standard allows there, like hl7apy's own validation but with a position a sender can find.

Z-segments (site-defined, "Z" first) are allowed anywhere: HL7 leaves their place to the
interface agreement (this interface's ZCL is documented in README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# table 0354: the structure each supported trigger uses
STRUCTURES = {
    ("RDS", "O13"): "RDS_O13",
    ("VXU", "V04"): "VXU_V04",
    ("ADT", "A08"): "ADT_A01",
}


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    min: int
    max: int  # -1: unbounded
    children: tuple[Node, ...] = ()  # a group's members; empty for a segment
    group: bool = False


@dataclass(frozen=True, slots=True)
class StructureProblem:
    index: int  # 0-based index of the segment that cannot be placed (== count: at the end)
    segment: str  # its id ("" at the end of the message)
    expected: tuple[str, ...]  # the segment ids the structure allows there


def _compile(struct: tuple[object, ...]) -> tuple[Node, ...]:
    nodes = []
    for element in struct[1]:  # type: ignore[attr-defined]
        name, sub, (low, high), kind = element[0], element[1], element[2], element[3]
        group = kind == "GRP"
        nodes.append(Node(name, low, high, _compile(sub) if group else (), group))
    return tuple(nodes)


@cache
def structure(name: str) -> tuple[Node, ...]:
    """The top-level elements of an HL7 v2.5.1 message structure, from hl7apy."""
    from hl7apy.v2_5_1.messages import MESSAGES  # loaded on first use: it is a large module

    return _compile(MESSAGES[name])


class _Matcher:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.furthest = 0
        self.tried: dict[int, set[str]] = {}

    def sequence(self, nodes: tuple[Node, ...], starts: frozenset[int]) -> frozenset[int]:
        for node in nodes:
            starts = self.repeated(node, starts)
            if not starts:
                break
        return starts

    def once(self, node: Node, starts: frozenset[int]) -> frozenset[int]:
        if node.group:
            return self.sequence(node.children, starts)
        ends = set()
        for p in starts:
            self.tried.setdefault(p, set()).add(node.name)
            if p < len(self.names) and self.names[p] == node.name:
                ends.add(p + 1)
                self.furthest = max(self.furthest, p + 1)
        return frozenset(ends)

    def repeated(self, node: Node, starts: frozenset[int]) -> frozenset[int]:
        result = set(starts) if node.min == 0 else set()
        current, seen, count = starts, set(starts), 0
        while current:
            current = self.once(node, current)
            count += 1
            if count >= node.min:
                result |= current
            if node.max != -1 and count >= node.max:
                break
            current = frozenset(current - seen)
            seen |= current
        return frozenset(result)


def structure_problem(structure_name: str, segment_ids: list[str]) -> StructureProblem | None:
    """None when the segments fit the structure; else where they stop fitting."""
    kept = [(i, s) for i, s in enumerate(segment_ids) if not s.startswith("Z")]
    names = [s for _, s in kept]
    matcher = _Matcher(names)
    ends = matcher.sequence(structure(structure_name), frozenset({0}))
    if len(names) in ends:
        return None
    at = matcher.furthest
    expected = tuple(sorted(matcher.tried.get(at, set())))
    if at < len(names):
        return StructureProblem(kept[at][0], names[at], expected)
    return StructureProblem(len(segment_ids), "", expected)
