"""Workflows: the screening funnel as chunked stage functions, run locally or via FireWorks."""
