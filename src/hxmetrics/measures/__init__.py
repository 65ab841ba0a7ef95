"""Validated experience measures: tables in, tidy tables out."""
