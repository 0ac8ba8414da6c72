"""Signing in beyond the password: lockout after failures, the TOTP second factor, idle
session expiry. django-axes, django-otp and django-csp do the heavy lifting; this package
holds our hooks, pages and middleware."""
