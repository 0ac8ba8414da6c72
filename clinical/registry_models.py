"""Immunization registry outbox (VXU messages sent to state registries): models."""
