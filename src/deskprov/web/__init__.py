"""HTTP: the management API, the phone endpoint and operations (aiohttp lives here)."""
