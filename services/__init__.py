"""Use cases: each owns its transaction and its audit entry; no request, no templates."""
