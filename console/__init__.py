"""The operators' console (/console): one Flask blueprint per feature, plus operator accounts
and review data."""
