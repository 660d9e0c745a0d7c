"""Pure types and rules: no HTTP, no SQL."""
