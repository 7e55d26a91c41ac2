"""API keys: long-lived credentials for scripts, bound to their creator's membership."""
