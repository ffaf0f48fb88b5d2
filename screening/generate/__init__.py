"""Candidate generation: campaigns, prototypes, streamed enumeration, identities."""
