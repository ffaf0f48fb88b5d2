"""Screening of solid electrolytes."""
