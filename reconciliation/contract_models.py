"""Payer contracts: models."""
