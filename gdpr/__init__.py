"""GDPR requests: the kinds of request (one registry), the repository that stores them, and
the letter a citizen sends to the controller."""
