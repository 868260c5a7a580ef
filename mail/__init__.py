"""Outgoing e-mail: composition, SMTP transport, the outbox and its sender, and the local sink."""
