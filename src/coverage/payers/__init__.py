"""Payers: the directory of how to reach each payer and how fast it answers (gateways come later)."""
