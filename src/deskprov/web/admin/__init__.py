"""The admin web pages under ``/admin/``: server-rendered HTML over the same services as the API."""
