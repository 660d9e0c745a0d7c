"""Provider adapters: what each provider type can do, and the clients of their APIs."""
