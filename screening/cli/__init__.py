"""Typer command-line interface (the top of the dependency graph)."""
