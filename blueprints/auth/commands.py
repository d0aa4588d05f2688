"""`flask users …`: accounts, enrollment links, deactivation, roles, sessions and dual-control recovery.

There is no default account: the first officer is created here and gets a one-time enrollment link.
Commands are thin; services/accounts.py does the work and writes the audit entries.
"""

from __future__ import annotations

import datetime as dt
import getpass
import unicodedata

import click
from flask.cli import AppGroup

from extensions import db

users_cli = AppGroup("users", help="利用者アカウント (作成・登録リンク・無効化・役割・回復).")

ROLE_CHOICES = click.Choice(["staff", "officer", "contractor", "auditor", "sysadmin"])


def _ctx() -> dict:
    """Audit context of a command: no signed-in actor; the operating-system account is recorded."""
    return {"actor": None, "session_ref": None, "ip": f"cli:{_os_user()}"[:45]}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _print_link(token: str) -> None:
    from services import auth

    click.echo("")
    click.echo("登録用リンク (1回限り・24時間有効。本人に直接渡してください):")
    click.echo(f"  {auth.enrollment_url(token)}")


def _parse_date(_ctx_, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD で指定してください。") from None


def _run(function, *args, **kwargs):
    from services.auth import AccountError

    with db.connection_context():
        try:
            return function(*args, **kwargs)
        except AccountError as exc:
            _fail(str(exc))


@users_cli.command("create")
@click.option("--role", required=True, type=ROLE_CHOICES, help="役割")
@click.option("--name", required=True, help="氏名 (例: 川崎 花子)")
@click.option("--login-id", required=True, help="ユーザID (英数字と . _ -)")
@click.option("--office", default=None, help="事務所コード (公社職員は必須)")
@click.option("--contract-end", default=None, callback=_parse_date, help="契約終了日 YYYY-MM-DD")
def create(role, name, login_id, office, contract_end):
    """Create an account and print its one-time enrollment link."""
    from services import accounts

    user, token = _run(
        accounts.create_user, login_id, name, role, _ctx(), office_code=office, contract_end=contract_end
    )
    click.echo(f"作成しました: {user.login_id} ({user.display_name}, {role})")
    _print_link(token)


@users_cli.command("enroll-link")
@click.argument("login_id")
def enroll_link(login_id):
    """Issue a new enrollment link (earlier unused links stop working)."""
    from services import accounts

    user, token = _run(accounts.new_link, login_id, _ctx())
    click.echo(
        f"{user.login_id} ({user.display_name}) の登録用リンクを発行しました。以前の未使用リンクは無効です。"
    )
    _print_link(token)


@users_cli.command("deactivate")
@click.argument("login_id")
def deactivate(login_id):
    """Block an account at once (its sessions end; the account is kept for the audit trail)."""
    from services import accounts

    user, ended = _run(accounts.deactivate, login_id, _ctx())
    click.echo(f"無効にしました: {user.login_id} ({user.display_name})。終了したセッション: {ended}件")


@users_cli.command("set-role")
@click.argument("login_id")
@click.argument("role", type=ROLE_CHOICES)
@click.option("--office", default=None, help="事務所コード (contractor にするとき)")
def set_role(login_id, role, office):
    """Change an account's role (applies at its next request)."""
    from services import accounts

    user = _run(accounts.set_role, login_id, role, _ctx(), office_code=office)
    click.echo(f"役割を変更しました: {user.login_id} → {user.role}")


@users_cli.command("end-sessions")
@click.argument("login_id")
def end_sessions(login_id):
    """End every session of an account now."""
    from services import accounts

    count = _run(accounts.end_sessions, login_id, _ctx())
    click.echo(f"{login_id} のセッションを{count}件終了しました。")


@users_cli.command("list")
def list_users():
    """List the accounts with their authenticators and live sessions."""
    from services import accounts

    rows = _run(accounts.list_users)
    if not rows:
        click.echo(
            "アカウントはありません。最初の保護責任者は `flask users create --role officer …` で作成します。"
        )
        return
    widths = (20, 11, 8, 6, 8, 12)
    header = ("ユーザID", "役割", "事務所", "状態", "認証器", "セッション")
    click.echo(" ".join(_pad(text, width) for text, width in zip(header, widths, strict=True)) + " 氏名")
    for row in rows:
        user = row.user
        cells = (
            user.login_id,
            user.role,
            user.office.code if user.office_id else "-",
            "有効" if user.active else "無効",
            str(row.authenticators),
            str(row.live_sessions),
        )
        line = " ".join(_pad(text, width) for text, width in zip(cells, widths, strict=True))
        click.echo(f"{line} {user.display_name}")


def _pad(text: str, width: int) -> str:
    """text padded to width terminal columns (full-width characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)


@users_cli.command("demo-officer")
@click.option("--new-link", is_flag=True, help="認証器を登録済みでも新しい登録用リンクを発行する")
def demo_officer(new_link):
    """The demo officer (created if missing) and its enrollment link (printed by `make run`)."""
    from services import accounts

    result = _run(accounts.demo_officer, _ctx(), new_link=new_link)
    user = result.user
    if result.created:
        click.echo(f"デモ用の保護責任者を作成しました: {user.login_id} ({user.display_name})")
    else:
        click.echo(f"デモ用の保護責任者: {user.login_id} ({user.display_name})")
    if result.has_authenticators and not result.token:
        click.echo("認証器は登録済みです。ログイン画面から認証器でログインしてください。")
        click.echo("新しい登録用リンクが必要なときは `flask users demo-officer --new-link` を実行します。")
        return
    _print_link(result.token)


@users_cli.command("recovery-request")
@click.argument("login_id")
@click.option("--by", "by", required=True, help="本人確認をした保護責任者のユーザID")
@click.option("--identity-check", required=True, help="本人確認の方法 (例: 運転免許証で確認)")
def recovery_request(login_id, by, identity_check):
    """Record a recovery request for someone who lost every authenticator (identity checked in person)."""
    from services import accounts

    request = _run(accounts.request_recovery, login_id, by, identity_check, _ctx())
    click.echo(f"回復申請 {request.id} を受け付けました ({login_id})。")
    click.echo(
        "別の保護責任者2名が `flask users recovery-approve` で承認すると、新しい登録用リンクを発行します。"
    )


@users_cli.command("recovery-approve")
@click.argument("request_id", type=int)
@click.option("--by", "by", required=True, help="承認する保護責任者のユーザID (5分以内に再認証済み)")
def recovery_approve(request_id, by):
    """Approve a recovery request; the second approval revokes the old authenticators and prints a link."""
    from services import accounts

    request, token = _run(accounts.approve_recovery, request_id, by, _ctx())
    if token is None:
        click.echo(f"回復申請 {request.id}: 1人目の承認を記録しました ({by})。もう1名の承認が必要です。")
        return
    click.echo(
        f"回復申請 {request.id}: 2人目の承認を記録しました ({by})。"
        "以前の認証器とセッションはすべて無効にしました。"
    )
    _print_link(token)
