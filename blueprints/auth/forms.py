"""Forms of the authentication screens (labels with _l; the ceremonies themselves post JSON)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from services.auth import NICKNAME_MAX


class NicknameForm(FlaskForm):
    """The name of a new authenticator (enrollment, adding a spare)."""

    nickname = StringField(
        _l("認証器の名前"),
        validators=[Length(max=NICKNAME_MAX)],
        description=_l("あとで見分けられる名前を付けてください（例: 職場のセキュリティキー、予備のキー）。"),
    )
    next = HiddenField()


class RenameForm(FlaskForm):
    """A new name for one of the user's authenticators."""

    nickname = StringField(
        _l("新しい名前"),
        validators=[DataRequired(message=_l("名前を入力してください。")), Length(max=NICKNAME_MAX)],
    )
    submit = SubmitField(_l("名前を変更"))
