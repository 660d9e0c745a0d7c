"""Use cases. Each public method owns its transaction; repositories never commit."""
