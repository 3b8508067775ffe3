"""Plumbing shared by two or more shop services; nothing domain-specific lives here."""
