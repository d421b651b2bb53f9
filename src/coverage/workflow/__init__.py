"""The prior-authorization workflow services that the Prefect flows call: one service per task."""
