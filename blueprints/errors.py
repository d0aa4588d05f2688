"""Generic error pages in the user's language: no detail of what went wrong leaves the server."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from peewee import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

TITLES = {
    400: _l("リクエストを処理できません"),
    401: _l("ログインが必要です"),
    403: _l("この操作は許可されていません"),
    404: _l("ページが見つかりません"),
    405: _l("この操作は許可されていません"),
    409: _l("ほかの人が先に更新しました"),
    413: _l("送信されたデータが大きすぎます"),
    422: _l("入力内容を確認してください"),
    429: _l("しばらく待ってからやり直してください"),
    500: _l("システムエラーが発生しました"),
    503: _l("ただいま利用できません"),
}

MESSAGES = {
    400: _l("送信内容を読み取れませんでした。画面を開き直して、もう一度操作してください。"),
    401: _l("続けるにはログインしてください。"),
    403: _l("この画面または操作を利用する権限がありません。必要な場合は保護責任者に相談してください。"),
    404: _l("お探しのページは存在しないか、表示する権限がありません。"),
    405: _l("この画面または操作を利用する権限がありません。"),
    409: _l("あなたが編集している間に、別の職員がこの記録を更新しました。最新の内容を確認してからやり直してください。"),
    413: _l("送信できる大きさを超えています。"),
    422: _l("入力内容に誤りがあります。画面の案内に従って修正してください。"),
    429: _l("短い時間に操作が集中しました。少し待ってからやり直してください。"),
    500: _l("処理中に問題が発生しました。時間をおいてやり直してください。解決しない場合はシステム担当へ連絡してください。"),
    503: _l("システムが混み合っているか、保守中です。しばらくしてからやり直してください。"),
}


def render_error(status: int):
    """The error page for status, with its status code."""
    code = status if status in TITLES else 500
    return render_template("errors/error.html", status=code, title=TITLES[code], message=MESSAGES[code]), status


def register_error_handlers(app: Flask) -> None:
    """HTTP errors, an unreachable or locked database (503), and anything unexpected (500)."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = render_error(exc.code or 500)
        return response[0], exc.code or 500, exc.get_headers() if exc.code == 405 else {}

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc):
        app.logger.error("database error: %s", type(exc).__name__)
        return render_error(503)

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error")
        return render_error(500)
