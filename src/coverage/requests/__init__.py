"""Prior-authorization requests: the lifecycle state machine, its clocks, and the services."""
