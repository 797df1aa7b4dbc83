"""Follow-up management for staff: the actions (verify, assign, resolve...), the queue and exports."""
