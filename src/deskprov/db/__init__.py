"""SQLAlchemy models, the engine and migrations (SQLAlchemy lives here)."""
