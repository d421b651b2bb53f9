"""Payer policies as data: the schema, the loader, the shipped policy files and the engine."""
