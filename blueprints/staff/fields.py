"""Form fields of the tenant-file screens, each normalising what people type the Japanese way.

Every field turns the submitted text into the stored value in process_formdata and refuses what
cannot be stored with a message in the user's language (shown beside the field):

- DateInputField: 西暦 (2026-04-01, 2026/4/1, 20260401) or 和暦 (令和8年4月1日, R8.4.1), full width too.
- NameField: NFKC, control characters refused, 氏 and 名 separated by a full-width space.
- KanaField: ひらがな and 半角カナ become full-width カタカナ; anything else is refused.
- PostalCodeField: 〒210-8577, ２１０８５７７ … → "2108577".
- PhoneField: 044-200-2948, +81 44… → digits only, the length rules of the numbering plan.
- TextField / NoteField: normalised single-line / multi-line text with a maximum length.
- YenInputField: whole yen, commas and 円 allowed, never negative.
- VersionField: the hidden version the editor read (optimistic locking).
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import Field, HiddenField, IntegerField, StringField, TextAreaField, ValidationError
from wtforms.validators import InputRequired, NumberRange, Optional, StopValidation

from rules import kana, wareki
from rules.formatting import normalize_phone, normalize_postal


class _Normalising(StringField):
    """A text input whose data is the normalised value (None when left empty)."""

    message = _l("入力内容を確認してください。")

    def __init__(self, label=None, validators=None, max_length: int | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length
        self.raw = ""

    def normalise(self, text: str):
        return text

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        if not isinstance(self.raw, str) or not self.raw.strip():
            self.data = None
            return
        try:
            value = self.normalise(self.raw)
        except ValueError as exc:
            self.data = None
            raise ValueError(str(self.message_for(exc))) from None
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            self.data = None
            raise ValueError(str(_l("%(max)s文字以内で入力してください。", max=self.max_length)))
        self.data = value

    def message_for(self, exc: ValueError):
        return self.message

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.display(self.data) if self.data is not None else ""

    def display(self, value) -> str:
        return str(value)


class TextField(_Normalising):
    """Single-line text: NFKC, no control characters, whitespace collapsed."""

    message = _l("使えない文字（制御文字など）が含まれています。")

    def normalise(self, text):
        return kana.normalize_text(text)


class NoteField(TextAreaField):
    """Multi-line free text (備考): normalised line by line, at most max_length characters."""

    def __init__(self, label=None, validators=None, max_length: int = 1000, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        if not isinstance(raw, str) or not raw.strip():
            self.data = None
            return
        try:
            value = kana.normalize_text(raw, multiline=True)
        except ValueError:
            self.data = None
            raise ValueError(str(_l("使えない文字（制御文字など）が含まれています。"))) from None
        if len(value) > self.max_length:
            self.data = None
            raise ValueError(str(_l("%(max)s文字以内で入力してください。", max=self.max_length)))
        self.data = value


class NameField(_Normalising):
    """A person's name in 漢字 (or as registered): 氏 and 名 separated by a full-width space."""

    message = _l("使えない文字（制御文字など）が含まれています。")

    def normalise(self, text):
        return kana.normalize_name(text)


class KanaField(_Normalising):
    """氏名カナ: stored as full-width katakana whatever the input width or kana."""

    message = _l("カタカナ（またはひらがな）で入力してください。")

    def normalise(self, text):
        value = kana.to_display_kana(text)
        if not kana.is_katakana(value):
            raise ValueError("not katakana")
        return value


class PostalCodeField(_Normalising):
    """〒 postal code: seven digits stored, shown 210-8577."""

    message = _l("郵便番号は7桁の数字で入力してください（例: 210-8577）。")

    def normalise(self, text):
        return normalize_postal(text)

    def display(self, value):
        return f"{value[:3]}-{value[3:]}" if value and len(value) == 7 else value or ""


class PhoneField(_Normalising):
    """A Japanese phone number, stored as digits."""

    message = _l("電話番号は0から始まる10桁（携帯電話・IP電話は11桁）の数字で入力してください。")

    def normalise(self, text):
        return normalize_phone(text)

    def display(self, value):
        from rules.formatting import phone

        return phone(value)


class DateInputField(_Normalising):
    """A date typed in 西暦 or 和暦; shown back in 西暦 (YYYY-MM-DD) so the browser and people agree."""

    def normalise(self, text):
        return wareki.parse_date(text)

    def message_for(self, exc):
        # The rules explain precisely what is wrong (Japanese); English users get the format help.
        from flask_babel import get_locale

        if str(get_locale()) == "ja":
            return str(exc)
        return _l("日付は 2026-04-01 または 令和8年4月1日 の形で入力してください。")

    def display(self, value):
        return value.isoformat()


_YEN = re.compile(r"[0-9]{1,12}")
YEN_MAX = 999_999_999  # every amount column is a 32-bit integer; no household figure comes near


class YenInputField(_Normalising):
    """An amount in whole yen: 12,000 / １２０００円 / ¥12000 → 12000."""

    message = _l("金額は0以上の整数（円）で入力してください。")

    def normalise(self, text):
        cleaned = unicodedata.normalize("NFKC", text).replace(",", "").replace("円", "").replace("¥", "")
        cleaned = cleaned.replace("￥", "").strip()
        if not _YEN.fullmatch(cleaned):
            raise ValueError("not yen")
        if int(cleaned) > YEN_MAX:
            raise ValueError("too large")
        return int(cleaned)

    def message_for(self, exc):
        if str(exc) == "too large":
            return _l("金額は10億円未満で入力してください。")
        return self.message


class VersionField(HiddenField):
    """The version of the record when the form was opened; a missing or forged one is refused."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(
            label, validators or [InputRequired(message=_l("画面を開き直してください。"))], **kwargs
        )

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10:
            self.data = int(raw)
        else:
            self.data = None
            if valuelist:
                raise ValueError(str(_l("画面を開き直してください。")))


class Required:
    """The field must hold a value after normalisation (spaces alone are not a value).

    When the input could not be read at all, the field's own message is enough: no second one.
    """

    field_flags = {"required": True}

    def __init__(self, message=None):
        self.message = message

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise StopValidation(str(self.message or _l("入力してください。")))


def required(message=None):
    """A required field, with a message in the user's language."""
    return Required(message)


def optional():
    return Optional()


def count(minimum=0, maximum=99, message=None):
    return NumberRange(minimum, maximum, message=message or _l("%(min)sから%(max)sの数で入力してください。"))


class SmallIntegerField(IntegerField):
    """An integer input with a friendly message instead of WTForms' English one."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        text = unicodedata.normalize("NFKC", str(valuelist[0])).strip()
        if not re.fullmatch(r"-?[0-9]{1,9}", text):
            self.data = None
            raise ValueError(str(_l("数字で入力してください。")))
        self.data = int(text)


def not_after(other_name: str, message):
    """Validator: this date is not after the other date field's (e.g. 入居日 ≤ 退去日)."""

    def check(form, field):
        other = form[other_name].data
        if field.data and other and field.data > other:
            raise ValidationError(message)

    return check


__all__ = [
    "DateInputField",
    "Field",
    "KanaField",
    "NameField",
    "NoteField",
    "PhoneField",
    "PostalCodeField",
    "SmallIntegerField",
    "TextField",
    "VersionField",
    "YenInputField",
    "count",
    "not_after",
    "optional",
    "required",
]


class DigitsField(_Normalising):
    """An identifier of digits only (宛名番号 …): full-width digits and spaces accepted, at most max_digits."""

    def __init__(self, label=None, validators=None, max_digits: int = 15, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_digits = max_digits

    def normalise(self, text):
        digits = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        if not re.fullmatch(r"[0-9]+", digits) or len(digits) > self.max_digits:
            raise ValueError("not digits")
        return digits

    def message_for(self, exc):
        return _l("%(max)s桁以内の数字で入力してください。", max=self.max_digits)


_DECIMAL = re.compile(r"([0-9]{1,7})(?:\.([0-9]+))?")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")


class DecimalInputField(_Normalising):
    """A decimal number (床面積, 係数 …): full width accepted, a unit after it (㎡, m2) dropped; at most
    `places` decimal places (more is refused, never rounded silently); within minimum (exclusive when
    exclusive_minimum) and maximum. The data is a Decimal with exactly `places` places."""

    def __init__(
        self,
        label=None,
        validators=None,
        places: int = 2,
        minimum=None,
        maximum=None,
        exclusive_minimum: bool = False,
        **kwargs,
    ):
        super().__init__(label, validators, **kwargs)
        from decimal import Decimal

        self.places = places
        self.minimum = None if minimum is None else Decimal(str(minimum))
        self.maximum = None if maximum is None else Decimal(str(maximum))
        self.exclusive_minimum = exclusive_minimum

    def normalise(self, text):
        from decimal import Decimal

        cleaned = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
        for unit in ("m2", "m²", "平方メートル", "平米"):
            cleaned = cleaned.removesuffix(unit)
        if _THOUSANDS.fullmatch(cleaned):
            cleaned = cleaned.replace(",", "")
        match = _DECIMAL.fullmatch(cleaned)
        if not match:
            raise ValueError(self._range_message())
        if len(match.group(2) or "") > self.places:
            raise ValueError(_l("小数点以下%(places)s桁までで入力してください。", places=self.places))
        value = Decimal(cleaned).quantize(Decimal(1).scaleb(-self.places))
        too_low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        if too_low or (self.maximum is not None and value > self.maximum):
            raise ValueError(self._range_message())
        return value

    def _range_message(self):
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            if self.exclusive_minimum:
                return _l("%(min)sより大きく%(max)s以下の数で入力してください。", min=low, max=high)
            return _l("%(min)sから%(max)sまでの数で入力してください。", min=low, max=high)
        return _l("数で入力してください（例: 60.25）。")

    def message_for(self, exc):
        return exc.args[0] if exc.args else self._range_message()

    def display(self, value):
        from decimal import Decimal

        return format(Decimal(value), f".{self.places}f")


class MonthInputField(DateInputField):
    """A month typed in 西暦 or 和暦 (2026-05, 2026/5, 202605, 2026年5月, 令和8年5月, R8.5; a whole date
    is taken as its month). The data is the first day of the month, shown back as 2026-05."""

    def normalise(self, text):
        from datetime import date

        cleaned = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        match = re.fullmatch(r"([0-9]{4})(?:[./-]([0-9]{1,2})|([0-9]{2}))", cleaned)
        if match:
            month = int(match.group(2) or match.group(3))
            if int(match.group(1)) < 1 or not 1 <= month <= 12:
                raise ValueError("no such month")
            return date(int(match.group(1)), month, 1)
        candidates = [cleaned]
        if cleaned.endswith("月"):
            candidates.insert(0, cleaned + "1日")
        separator = re.search(r"[./-]", cleaned)
        if separator:
            candidates.insert(0, cleaned + separator.group(0) + "1")
        for candidate in candidates:
            try:
                return wareki.parse_date(candidate).replace(day=1)
            except ValueError:
                continue
        raise ValueError("not a month")

    def message_for(self, exc):
        return _l("月は 2026-05 または 令和8年5月 の形で入力してください。")

    def display(self, value):
        return f"{value.year:04d}-{value.month:02d}"


class TimeInputField(_Normalising):
    """A time of day: 14:05, 1405, 14時5分, full width too. The data is a datetime.time."""

    message = _l("時刻は 14:05 の形で入力してください。")

    def normalise(self, text):
        from datetime import time

        cleaned = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        match = re.fullmatch(
            r"([0-9]{1,2})(?::|時)([0-9]{1,2})分?|([0-9]{2})([0-9]{2})|([0-9]{1,2})時", cleaned
        )
        if not match:
            raise ValueError("not a time")
        if match.group(5):
            hour, minute = int(match.group(5)), 0
        else:
            hour = int(match.group(1) or match.group(3))
            minute = int(match.group(2) or match.group(4))
        if hour > 23 or minute > 59:
            raise ValueError("no such time")
        return time(hour, minute)

    def display(self, value):
        return value.strftime("%H:%M")


class AddressField(_Normalising):
    """A Japanese address: NFKC like TextField, but a space next to Japanese text stays full width
    (富士見4丁目2番　市営富士見住宅), as addresses are written and kept, so saving unchanged text changes nothing."""

    message = _l("使えない文字（制御文字など）が含まれています。")

    def normalise(self, text):
        value = kana.normalize_text(text)
        return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", kana.IDEOGRAPHIC_SPACE, value)
