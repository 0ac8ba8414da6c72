"""Pure HL7 v2 inbound core: MLLP framing, message parsing and ACK building (no Django)."""
