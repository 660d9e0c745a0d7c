"""Keys, encryption at rest and API-key hashing (cryptography lives here)."""
