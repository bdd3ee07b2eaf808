"""Durable state the rules read and the enforcement points write: consent and quotas."""
