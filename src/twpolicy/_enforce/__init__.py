"""Enforcement points that are not clients: stores that refuse, exports that count."""
