"""deskprov: a desk-phone auto-provisioning server."""

__version__ = "0.1.0"
