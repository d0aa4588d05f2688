"""Generic error pages in the user's language: no detail of what went wrong leaves the server."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import escape
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
    409: _l(
        "あなたが編集している間に、別の職員がこの記録を更新しました。最新の内容を確認してからやり直してください。"
    ),
    413: _l("送信できる大きさを超えています。"),
    422: _l("入力内容に誤りがあります。画面の案内に従って修正してください。"),
    429: _l("短い時間に操作が集中しました。少し待ってからやり直してください。"),
    500: _l(
        "処理中に問題が発生しました。時間をおいてやり直してください。解決しない場合はシステム担当へ連絡してください。"
    ),
    503: _l("システムが混み合っているか、保守中です。しばらくしてからやり直してください。"),
}

# Used only when the error page itself cannot be rendered (the template or its context failed):
# static, Japanese, no detail.
FALLBACK_PAGE = (
    '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
    "<title>エラー {status}</title></head><body><main>"
    "<h1>エラーが発生しました</h1><p>エラーコード: {status}</p>"
    "<p>時間をおいてやり直してください。</p>"
    '<p><a href="/">ホームへ戻る</a></p></main></body></html>'
)


def render_error(status: int):
    """The error page for status, with its status code (a static page if even that cannot be rendered)."""
    code = status if status in TITLES else 500
    if request.endpoint == "main.health":
        # Monitoring reads JSON, whatever failed before the view ran.
        return jsonify(status="degraded", database="unavailable" if code == 503 else "unknown"), status
    try:
        body = render_template("errors/error.html", status=status, title=TITLES[code], message=MESSAGES[code])
    except Exception:
        from flask import current_app

        current_app.logger.exception("error page could not be rendered")
        body = FALLBACK_PAGE.format(status=escape(status))
    return body, status


def register_error_handlers(app: Flask) -> None:
    """HTTP errors, an unreachable or locked database (503), and anything unexpected (500)."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        body, status = render_error(status)
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        return body, status, headers

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc):
        app.logger.error("database error: %s", type(exc).__name__)
        return render_error(503)

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error")
        return render_error(500)
