"""Masking of personal data before anything is stored or published."""
