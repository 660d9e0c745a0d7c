"""Request and response shapes of the management API (pydantic).

The same classes validate requests, shape responses and produce the OpenAPI document, so the
contract has one source of truth.
"""
