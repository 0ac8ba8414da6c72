"""Outbound webhooks: signed, retried notifications to an integration, configured per API
token (job finished, reconciliation exceptions found)."""
