"""The campaign report: a static HTML page built from top-K queries (no server)."""
