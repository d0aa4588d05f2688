"""Authentication: WebAuthn enrollment, login, step-up, logout, authenticators and sessions.

Flask-Login's loaders resolve the user only through a live server-side session (services/sessions):
the cookie holds a random token under "sid", never a user id, so a logged-out, revoked or expired
cookie is anonymous whatever it says. login_user() is never called.
"""

from __future__ import annotations

from flask import g, request, session

from blueprints.auth.views import SESSION_KEY, bp, require_step_up
from extensions import login_manager
from models.security import User
from services import sessions

__all__ = ["bp", "require_step_up", "load_signed_in_user"]


def load_signed_in_user(*_unused):
    """The user of this request's live session, or None (anonymous). Sets g.user_session, g.session_ref."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    row = sessions.resolve(token, ip=request.remote_addr)
    if row is None:
        session.pop(SESSION_KEY, None)
        return None
    g.user_session = row
    g.session_ref = sessions.session_ref(row)
    return row.user


# Both loaders go through the session row: _user_id is never stored, and a remember-me cookie
# (never issued) would only reach the same function.
login_manager.user_loader(load_signed_in_user)
login_manager.request_loader(load_signed_in_user)
# Flask-Login's own session protection rewrites the cookie on every request; the server-side row
# does that job (revocation, idle and absolute limits).
login_manager.session_protection = None


def _install_user_protocol() -> None:
    """Flask-Login's user protocol on User (kept out of models/, which do not import Flask).

    is_authenticated is true for any User object (the loaders return one only for a live session);
    is_active follows the account's active flag; get_id is never used to reload the user.
    """
    User.is_authenticated = property(lambda self: True)
    User.is_anonymous = property(lambda self: False)
    User.is_active = property(lambda self: bool(self.active))
    User.get_id = lambda self: str(self.id)


_install_user_protocol()
