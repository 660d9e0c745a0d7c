"""Vendor profiles, user-agent identification, layout, rendering and output checks.

jinja2 and lxml live here. A vendor is a folder of data and templates under ``device_templates``.
"""
