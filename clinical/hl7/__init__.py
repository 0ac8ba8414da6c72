"""HL7 v2 for immunizations: message building and dose checks, pure (see README.md)."""
