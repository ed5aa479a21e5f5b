"""Pipeline triggers: schedule, tumbling window and storage event triggers, and the scheduler that runs them."""
