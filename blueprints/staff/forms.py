"""Forms of the staff screens."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import InputRequired

# i18n: the seven purposes of use of the tenant file (特定個人情報保護評価書 II 3 ③)
PURPOSE_LABELS = (
    ("eligibility", _l("入居資格確認(所得要件・在住要件等)")),
    ("rent_deposit", _l("家賃決定・敷金決定")),
    ("income_inquiry", _l("収入申告書の提出・各種所得情報の照会")),
    ("annual_rent", _l("毎年度ごとの使用料の決定と通知")),
    ("over_income", _l("収入超過者に対する認定と通知")),
    ("high_income", _l("高額所得者に対する認定と明渡請求")),
    ("other", _l("その他(不正入居の検出、世帯情報の変更確認、滞納世帯の所得把握)")),
)


class RevealForm(FlaskForm):
    """Reveal a My Number: the purpose is required (SPEC §6)."""

    purpose = SelectField(
        _l("利用目的"),
        choices=[SelectChoice("", _l("選択してください"))]
        + [SelectChoice(c, label) for c, label in PURPOSE_LABELS],
        validators=[InputRequired(message=_l("利用目的を選んでください。"))],
        description=_l("表示は監査記録に残ります。業務に必要な場合だけ表示してください。"),
    )
