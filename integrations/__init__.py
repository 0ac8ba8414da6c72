"""Inbound interfaces for pharmacy systems: HL7 v2 messages over HTTP and MLLP."""
