"""Value-based contracts: models."""
