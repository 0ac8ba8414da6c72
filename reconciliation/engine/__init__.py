"""Reconciliation engine: pure functions over plain rows (no Django)."""
