"""Authentication screens: enrollment, login, step-up, logout, authenticators and sessions.

The ceremonies post JSON from static/js/webauthn.js (CSRF header included). Any refusal answers one
generic 400 「認証器を確認できません」; the reason is in the server log and the audit trail only.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from blueprints.auth.forms import NicknameForm, RenameForm
from blueprints.context import audit_context
from blueprints.main import safe_next
from extensions import limiter
from models.security import Credential, User, UserSession
from services import auth as auth_service
from services import sessions
from services.auth import LOGIN, REGISTER, STEP_UP, AccountError, CeremonyError

bp = Blueprint("auth", __name__)
authenticators = Blueprint("authenticators", __name__, url_prefix="/account/authenticators")
session_views = Blueprint("sessions", __name__, url_prefix="/account/sessions")

SESSION_KEY = "sid"
CHALLENGE_KEY = "webauthn_challenge"
CLEAR_SITE_DATA = '"cookies", "storage"'


# --- helpers ------------------------------------------------------------------------------------------


def ceremony_limit() -> str:
    """Per client address, on each ceremony endpoint (AUTH-9)."""
    return current_app.config.get("AUTH_RATE_LIMIT", "10 per minute")


def account_limit() -> str:
    """Per authenticator (the account being tried), on the verify endpoints (AUTH-9)."""
    return current_app.config.get("AUTH_ACCOUNT_RATE_LIMIT", "20 per hour")


def credential_key() -> str:
    """The rate-limit key of a verify request: the credential it names (the address when none)."""
    body = request.get_json(silent=True)
    credential = body.get("credential") if isinstance(body, dict) else None
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    if isinstance(credential_id, str) and 0 < len(credential_id) <= 1400:
        return "credential:" + credential_id
    return "address:" + (request.remote_addr or "")


def user_key() -> str:
    """The rate-limit key of a signed-in ceremony: the user."""
    return "user:" + str(getattr(current_user, "id", "") or request.remote_addr)


def wants_json() -> bool:
    """True for fetch/htmx requests (they get JSON or an empty 401, never a page)."""
    return (
        request.is_json
        or bool(request.headers.get("HX-Request"))
        or request.accept_mimetypes.best == "application/json"
    )


def refusal():
    """The one answer to any failed ceremony: nothing about why."""
    return jsonify(error=_("認証器を確認できません。")), 400


def json_body() -> dict:
    """The request's JSON object ({} for anything else)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def put_challenge(purpose: str, challenge: bytes) -> None:
    """Keep the ceremony's challenge in this browser's session (its hash is in the database)."""
    session[CHALLENGE_KEY] = {"purpose": purpose, "value": bytes_to_base64url(challenge)}


def take_challenge(purpose: str) -> bytes | None:
    """The challenge this browser was given for purpose (removed from the session either way)."""
    stored = session.pop(CHALLENGE_KEY, None)
    if not isinstance(stored, dict) or stored.get("purpose") != purpose:
        return None
    try:
        return base64url_to_bytes(stored["value"])
    except (KeyError, ValueError, TypeError):
        return None


def current_session() -> UserSession | None:
    """The live session row of this request (resolving the user first if nothing has yet)."""
    if current_user.is_authenticated:
        return g.get("user_session")
    return None


def start_browser_session(token: str) -> None:
    """A fresh cookie session holding only the new token (and the language): no fixation."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session[SESSION_KEY] = token


def end_browser_session(target: str):
    """Forget everything in this browser and go to target (Clear-Site-Data: cookies and storage)."""
    session.clear()
    response = redirect(target, code=303)
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def return_path() -> str:
    """Where to come back after a step-up: this page for a GET, the page the form was on otherwise."""
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"))
    explicit = request.form.get("next")
    if explicit:
        return safe_next(explicit)
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return safe_next(referrer.path)
    return url_for("main.home")


def require_step_up(view):
    """The view runs only if this session made a WebAuthn assertion in the last 5 minutes (AUTH-10).

    Otherwise: a page request is sent to /step-up?next=…; fetch and htmx requests get 401 JSON
    naming the step-up URL (and HX-Redirect for htmx).
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if sessions.recently_stepped_up(current_session()):
            return view(*args, **kwargs)
        return step_up_required()

    return wrapped


def step_up_required():
    """The answer when a step-up is due: the step-up page for a page request, 401 JSON (and HX-Redirect
    for htmx) otherwise. For views that check their input before asking for the re-authentication."""
    target = url_for("auth.step_up", next=return_path())
    if wants_json():
        response = jsonify(error=_("この操作の前に再認証が必要です。"), step_up=target)
        if request.headers.get("HX-Request"):
            response.headers["HX-Redirect"] = target
        return response, 401
    flash(_("この操作の前に、認証器でもう一度本人確認をしてください。"), "info")
    return redirect(target, code=303)


@bp.errorhandler(429)
def rate_limited(exc):
    """A ceremony limit tripped: audited, then the usual 429 (JSON for fetch)."""
    from blueprints.errors import render_error
    from services import audit

    audit.record(
        "auth.rate_limited",
        outcome="denied",
        reason=f"{request.method} {request.endpoint}: {getattr(exc, 'description', '')}"[:200],
        **audit_context(),
    )
    if wants_json():
        return jsonify(error=_("短い時間に操作が集中しました。少し待ってからやり直してください。")), 429
    return render_error(429)


@bp.app_context_processor
def auth_layout_context() -> dict:
    """For the layout: spare_authenticator_missing() is true while a signed-in user has fewer than two
    authenticators (lazy, so error pages that skip the user block never query)."""

    def spare_authenticator_missing() -> bool:
        if not current_user.is_authenticated:
            return False
        return auth_service.live_credentials(current_user).count() < 2

    return {"spare_authenticator_missing": spare_authenticator_missing}


# --- login and logout ---------------------------------------------------------------------------------------


@bp.get("/login")
def login():
    """The login page: one button, usernameless (the authenticator names the account)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"), code=303)
    return render_template("auth/login.html", next=safe_next(request.args.get("next")))


@bp.post("/login/options")
@limiter.limit(ceremony_limit)
def login_options():
    """Authentication options: the same for every caller, whatever it sends (no enumeration)."""
    options, challenge = auth_service.authentication_options(LOGIN)
    put_challenge(LOGIN, challenge)
    return Response(options, mimetype="application/json")


@bp.post("/login/verify")
@limiter.limit(ceremony_limit)
@limiter.limit(account_limit, key_func=credential_key)
def login_verify():
    """Verify the assertion, then start a new server-side session with a new cookie."""
    body = json_body()
    previous = current_session()
    try:
        result = auth_service.login(
            body.get("credential"),
            take_challenge(LOGIN),
            audit_context(),
            user_agent=request.user_agent.string,
        )
    except CeremonyError:
        return refusal()
    if previous is not None:  # another sign-in in the same browser ends the one it held
        sessions.end(previous, sessions.LOGOUT, actor=previous.user, ip=request.remote_addr)
    start_browser_session(result.token)
    g.session_ref = sessions.session_ref(result.session)
    if result.authenticators_changed:
        flash(
            _(
                "前回のログインの後に、あなたの認証器が追加または削除されました。"
                "心当たりがない場合は、すぐに保護責任者に連絡してください。"
            ),
            "warning",
        )
    return jsonify(redirect=safe_next(body.get("next")))


@bp.post("/logout")
def logout():
    """End this session on the server and clear the browser's cookies and storage."""
    row = current_session()
    if row is not None:
        sessions.end(row, sessions.LOGOUT, actor=current_user._get_current_object(), ip=request.remote_addr)
    return end_browser_session(url_for("auth.logged_out"))


@bp.get("/logged-out")
def logged_out():
    """Shown after logout (a page, because Clear-Site-Data also clears flashed messages)."""
    return render_template("auth/logged_out.html")


# --- enrollment -------------------------------------------------------------------------------------------


@bp.get("/enroll/<token>")
def enroll(token: str):
    """The page an enrollment link opens: register the first (or a replacement) authenticator."""
    try:
        link = auth_service.find_link(token, audit_context())
    except CeremonyError:
        return render_template("auth/enroll_invalid.html"), 404
    form = NicknameForm(
        nickname=_("認証器1") if not auth_service.live_credentials(link.user).exists() else ""
    )
    return render_template("auth/enroll.html", person=link.user, token=token, form=form)


@bp.post("/enroll/<token>/options")
@limiter.limit(ceremony_limit)
def enroll_options(token: str):
    """Registration options for the link's account (the link stays unused until verify succeeds)."""
    try:
        link = auth_service.find_link(token, audit_context())
    except CeremonyError:
        return refusal()
    options, challenge = auth_service.registration_options(link.user)
    put_challenge(REGISTER, challenge)
    return Response(options, mimetype="application/json")


@bp.post("/enroll/<token>/verify")
@limiter.limit(ceremony_limit)
def enroll_verify(token: str):
    """Store the new authenticator and use up the link; the person then signs in with it."""
    body = json_body()
    try:
        link = auth_service.find_link(token, audit_context())
        auth_service.finish_registration(
            link.user,
            body.get("credential"),
            take_challenge(REGISTER),
            body.get("nickname"),
            audit_context(),
            link=link,
        )
    except CeremonyError:
        return refusal()
    flash(_("認証器を登録しました。登録した認証器でログインしてください。"), "success")
    return jsonify(redirect=url_for("auth.login"))


# --- step-up ------------------------------------------------------------------------------------------------


@bp.get("/step-up")
def step_up():
    """Ask for the authenticator again before a sensitive operation; then return to next."""
    return render_template("auth/step_up.html", next=safe_next(request.args.get("next")))


@bp.post("/step-up/options")
@limiter.limit(ceremony_limit)
@limiter.limit(account_limit, key_func=user_key)
def step_up_options():
    """Authentication options naming the signed-in user's own authenticators."""
    options, challenge = auth_service.authentication_options(STEP_UP, current_user._get_current_object())
    put_challenge(STEP_UP, challenge)
    return Response(options, mimetype="application/json")


@bp.post("/step-up/verify")
@limiter.limit(ceremony_limit)
@limiter.limit(account_limit, key_func=user_key)
def step_up_verify():
    """A fresh assertion by one of the user's own authenticators: new session token, step-up time."""
    body = json_body()
    row = current_session()
    try:
        token = auth_service.step_up(
            current_user._get_current_object(),
            row,
            body.get("credential"),
            take_challenge(STEP_UP),
            audit_context(),
        )
    except CeremonyError:
        return refusal()
    session[SESSION_KEY] = token
    g.session_ref = sessions.session_ref(row)
    return jsonify(redirect=safe_next(body.get("next")))


# --- authenticators -------------------------------------------------------------------------------------------


def _own_credential_or_404(credential_id: int) -> Credential:
    credential = auth_service.own_credential(current_user._get_current_object(), credential_id)
    if credential is None:
        abort(404)
    return credential


def _authenticators_page(status: int = 200, forms: dict | None = None):
    user = current_user._get_current_object()
    credentials = list(auth_service.live_credentials(user))
    rename_forms = forms or {}
    for credential in credentials:
        rename_forms.setdefault(
            credential.id, RenameForm(prefix=f"c{credential.id}", nickname=credential.nickname)
        )
    removed = list(
        Credential.select()
        .where((Credential.user == user) & Credential.revoked_at.is_null(False))
        .order_by(Credential.revoked_at.desc())
        .limit(5)
    )
    add_form = NicknameForm(nickname="" if credentials else _("認証器1"))
    return (
        render_template(
            "auth/authenticators.html",
            credentials=credentials,
            removed=removed,
            rename_forms=rename_forms,
            add_form=add_form,
            current_credential_id=(current_session().credential_id if current_session() else None),
            stepped_up=sessions.recently_stepped_up(current_session()),
        ),
        status,
    )


@authenticators.get("", endpoint="index")
def authenticator_list():
    """The user's authenticators: add a spare, rename, remove (never the last)."""
    return _authenticators_page()


@authenticators.post("/options")
@limiter.limit(ceremony_limit)
@require_step_up
def add_options():
    """Registration options for a further authenticator of the signed-in user (after step-up)."""
    options, challenge = auth_service.registration_options(current_user._get_current_object())
    put_challenge(REGISTER, challenge)
    return Response(options, mimetype="application/json")


@authenticators.post("/verify")
@limiter.limit(ceremony_limit)
@require_step_up
def add_verify():
    """Store the further authenticator."""
    body = json_body()
    try:
        credential = auth_service.finish_registration(
            current_user._get_current_object(),
            body.get("credential"),
            take_challenge(REGISTER),
            body.get("nickname"),
            audit_context(),
        )
    except CeremonyError:
        return refusal()
    flash(_("認証器「%(name)s」を追加しました。", name=credential.nickname), "success")
    return jsonify(redirect=url_for("auth.authenticators.index"))


@authenticators.post("/<int:credential_id>/rename")
def rename(credential_id: int):
    """Give one of the user's authenticators a new name."""
    credential = _own_credential_or_404(credential_id)
    form = RenameForm(prefix=f"c{credential.id}")
    if not form.validate_on_submit():
        return _authenticators_page(422, {credential.id: form})
    auth_service.rename_credential(credential, form.nickname.data, audit_context())
    flash(_("認証器の名前を変更しました。"), "success")
    return redirect(url_for("auth.authenticators.index"), code=303)


@authenticators.post("/<int:credential_id>/remove")
@require_step_up
def remove(credential_id: int):
    """Remove an authenticator; the sessions made with it end (this one too, if it was used here)."""
    credential = _own_credential_or_404(credential_id)
    row = current_session()
    try:
        ended = auth_service.remove_credential(
            current_user._get_current_object(), credential, audit_context()
        )
    except AccountError:
        flash(_("最後の認証器は削除できません。先に予備の認証器を追加してください。"), "error")
        return redirect(url_for("auth.authenticators.index"), code=303)
    if row is not None and row.id in ended:
        return end_browser_session(url_for("auth.logged_out"))
    flash(_("認証器「%(name)s」を削除しました。", name=credential.nickname), "success")
    return redirect(url_for("auth.authenticators.index"), code=303)


# --- sessions ------------------------------------------------------------------------------------------------


@session_views.get("", endpoint="index")
def session_list():
    """The user's own live sessions, with the one in use marked."""
    user = current_user._get_current_object()
    rows = [row for row in sessions.live_rows(user) if not sessions.end_reason(row)]
    current = current_session()
    return render_template("auth/sessions.html", rows=rows, current_id=current.id if current else None)


def _own_session_or_404(session_id: int) -> UserSession:
    row = (
        UserSession.select()
        .where(
            (UserSession.id == session_id)
            & (UserSession.user == current_user.id)
            & UserSession.revoked_at.is_null()
        )
        .first()
    )
    if row is None:
        abort(404)
    return row


@session_views.post("/<int:session_id>/end")
def end(session_id: int):
    """End one of the user's sessions (this one: the same as logging out)."""
    row = _own_session_or_404(session_id)
    current = current_session()
    if current is not None and current.id == row.id:
        return logout()
    ctx = audit_context()
    sessions.end(
        row, sessions.ENDED_BY_USER, actor=ctx["actor"], ip=ctx["ip"], session_ref_of_actor=ctx["session_ref"]
    )
    flash(_("選んだログインを終了しました。"), "success")
    return redirect(url_for("auth.sessions.index"), code=303)


@session_views.post("/end-others")
def end_others():
    """End every session of the user but this one."""
    ctx = audit_context()
    count = sessions.end_all(
        current_user._get_current_object(), sessions.ENDED_BY_USER, keep=current_session(), **ctx
    )
    flash(_("ほかのログインを%(count)d件終了しました。", count=count), "success")
    return redirect(url_for("auth.sessions.index"), code=303)


@session_views.post("/end-all")
def end_all():
    """Log out everywhere, this browser included."""
    sessions.end_all(current_user._get_current_object(), sessions.LOGOUT_EVERYWHERE, **audit_context())
    return end_browser_session(url_for("auth.logged_out"))


@session_views.get("/all")
def all_sessions():
    """Officers: every live session, and recent changes to anyone's authenticators."""
    rows = [
        row
        for row in UserSession.select(UserSession, User)
        .join(User, on=(UserSession.user == User.id))
        .where(UserSession.revoked_at.is_null())
        .order_by(User.login_id, UserSession.last_seen_at.desc())
        if not sessions.end_reason(row)
    ]
    changes = list(
        Credential.select(Credential, User)
        .join(User, on=(Credential.user == User.id))
        .order_by(Credential.updated_at.desc())
        .limit(20)
    )
    current = current_session()
    return render_template(
        "auth/sessions_all.html", rows=rows, changes=changes, current_id=current.id if current else None
    )


@session_views.post("/users/<int:user_id>/end")
def end_user(user_id: int):
    """Officers: end every session of one user at once."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    current = current_session()
    count = sessions.end_all(user, sessions.ENDED_BY_OFFICER, keep=current, **audit_context())
    flash(
        _("%(name)sさんのログインを%(count)d件終了しました。", name=user.display_name, count=count), "success"
    )
    return redirect(url_for("auth.sessions.all_sessions"), code=303)


bp.register_blueprint(authenticators)
bp.register_blueprint(session_views)
