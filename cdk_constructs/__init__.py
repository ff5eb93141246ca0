"""Reusable constructs shared by every mlref lab stack."""
