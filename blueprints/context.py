"""Request context handed to services, so services never import the request themselves."""

from __future__ import annotations

from flask import g, request


def audit_context() -> dict:
    """Who is acting and from where: the arguments services.audit.record takes besides the event."""
    from blueprints.policy import current_identity

    return {"actor": current_identity(), "session_ref": g.get("session_ref"), "ip": request.remote_addr}
