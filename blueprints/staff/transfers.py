"""口座振替登録と金融機関の検索: register an account for rent or parking, end one, find banks.

Registering is 入力 → 確認 → 登録, with and without JavaScript:

- the bank and the branch are chosen from the 全銀協 list (services.banks). With htmx, typing in the
  search box lists matches as you type (POST bank_search / branch_search); each match is a submit
  button of the form (op=bank:0009), so picking one re-renders the form with the bank chosen (a
  hidden bank_code, its name and reading shown). Without JavaScript the same buttons work after
  「検索」, or people type the 4-digit bank code and 3-digit branch code and the confirmation shows
  the names the server found;
- the confirmation shows what will be stored: names, the account number padded to 7 digits, the
  holder's name converted to the half-width kana banks require, and which registration it ends;
- 登録 re-validates everything (hidden fields are never trusted) and calls
  services.bank_transfers.register: 422 beside the fields, 409 with both versions when someone
  registered or ended one for the same purpose since the form was opened, else the section again
  with a toast (303 and a flash message without JavaScript).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import DateInputField, TextField, VersionField, _Normalising, required
from blueprints.staff.household import code_choices
from models.tenancy import ACCOUNT_TYPES, TRANSFER_PURPOSES, BankTransfer
from rules import kana
from services import bank_transfers, banks, editing
from services.household_file import mask_account

bp = Blueprint("transfers", __name__)

SECTION = "transfers"
FORM_TEMPLATE = "staff/household/_transfer_form.html"
CONFIRM_TEMPLATE = "staff/household/_transfer_confirm.html"
END_TEMPLATE = "staff/household/_transfer_end.html"
PREFIX = "transfer_"  # field ids stay unique when another section's form is open on the page
HOLDER_MAX = 30  # 全銀協 formats carry 30 half-width characters for the 預金者名
QUERY_MAX = 40

_OP = re.compile(
    r"(confirm|save|edit|search_bank|search_branch|change_bank|change_branch|bank:[0-9]{4}|branch:[0-9]{3})"
)


@bp.app_template_global()
def bank_names(bank_code, branch_code):
    """(bank, branch) from the bank list for a registration's codes (None when not in the list)."""
    return banks.names(bank_code, branch_code)


# --- fields -----------------------------------------------------------------------------------------


class AccountNumberField(_Normalising):
    """口座番号: 1 to 7 digits (full width accepted), stored zero-padded to 7 as 全銀 files carry it."""

    message = _l("口座番号は7桁以内の数字で入力してください。")

    def normalise(self, text):
        digits = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        if not re.fullmatch(r"[0-9]{1,7}", digits):
            raise ValueError("not an account number")
        return digits.zfill(7)


class BankKanaField(_Normalising):
    """口座名義: カタカナ, ひらがな or 半角カナ in, the 全銀協 half-width set out (rules.kana.to_bank_kana)."""

    def normalise(self, text):
        if len(text) > HOLDER_MAX * 3:
            raise ValueError(str(_l("口座名義は半角%(max)s文字以内で入力してください。", max=HOLDER_MAX)))
        try:
            value = kana.to_bank_kana(text)
        except ValueError:
            bad = next((ch for ch in text if not ch.isspace() and not _bank_char_ok(ch)), None)
            if bad is None:
                raise ValueError(str(_l("口座名義を入力してください。"))) from None
            raise ValueError(
                str(
                    _l(
                        "口座名義に使えない文字「%(char)s」があります。カタカナ（またはひらがな）・英大文字・数字で、通帳の名義のとおりに入力してください。",
                        char=bad,
                    )
                )
            ) from None
        if len(value) > HOLDER_MAX:
            raise ValueError(
                str(
                    _l(
                        "口座名義は半角%(max)s文字以内にしてください（濁点・半濁点も1文字と数えます。いまは%(count)s文字です）。",
                        max=HOLDER_MAX,
                        count=len(value),
                    )
                )
            )
        return value

    def message_for(self, exc):
        return str(exc)


def _bank_char_ok(ch: str) -> bool:
    try:
        kana.to_bank_kana(ch)
    except ValueError:
        return False
    return True


def _digits(text: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


# --- the registration form -----------------------------------------------------------------------


class TransferForm(FlaskForm):
    """A new registration: purpose, bank and branch from the list, account, holder, start date."""

    purpose = SelectField(_l("対象"), choices=code_choices(TRANSFER_PURPOSES), validators=[required()])
    bank_query = TextField(
        _l("金融機関コード・名前"),
        max_length=QUERY_MAX,
        description=_l("4桁の金融機関コード、または名前・カナ（例: 0009、三井住友、みつい）。"),
    )
    bank_code = HiddenField()
    branch_query = TextField(
        _l("支店コード・名前"),
        max_length=QUERY_MAX,
        description=_l("3桁の支店コード、または名前・カナ。"),
    )
    branch_code = HiddenField()
    account_type = SelectField(_l("預金種目"), choices=code_choices(ACCOUNT_TYPES), validators=[required()])
    account_number = AccountNumberField(
        _l("口座番号"), [required()], description=_l("7桁未満の番号は前に0を補って登録します。")
    )
    holder_kana = BankKanaField(
        _l("口座名義（カナ）"),
        [required()],
        description=_l("カタカナ・ひらがな・半角カナで入力。金融機関が使う半角カナに変換して登録します。"),
    )
    valid_from = DateInputField(
        _l("開始日"),
        [required()],
        description=_l("この口座から振り替える最初の日。現在の登録は前日で終了します。"),
    )
    seen_rent = HiddenField()
    seen_parking = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix=PREFIX, **kwargs)
        self.bank = None
        self.branch = None
        self.bank_results = None  # None: no search made; []: nothing found
        self.branch_results = None

    # The chosen bank: the hidden code of a pick, else a 4-digit code typed in the search box.
    def resolve(self) -> None:
        code = _digits(self.bank_code.data)
        if not code and re.fullmatch(r"[0-9]{4}", _digits(self.bank_query.data)):
            code = _digits(self.bank_query.data)
        self.bank = banks.bank(code) if code else None
        if self.bank is None:
            self.branch = None
            return
        self.bank_code.data = self.bank.code
        code = _digits(self.branch_code.data)
        if not code and re.fullmatch(r"[0-9]{3}", _digits(self.branch_query.data)):
            code = _digits(self.branch_query.data)
        self.branch = banks.branch(self.bank.code, code) if code else None
        if self.branch is not None:
            self.branch_code.data = self.branch.code

    def search_bank(self) -> None:
        query = self.bank_query.data or ""
        self.bank_results = banks.search_banks(query) if query else None

    def search_branch(self) -> None:
        query = self.branch_query.data or ""
        if self.bank is not None and query:
            self.branch_results = banks.search_branches(self.bank.code, query)

    def validate_bank_query(self, field):
        if field.errors:
            return
        if self.bank is not None:
            return
        code = _digits(self.bank_code.data)
        typed = _digits(field.data)
        if code:
            raise ValidationError(_l("選んだ金融機関が一覧にありません。選び直してください。"))
        if not typed:
            raise ValidationError(
                _l("金融機関を選んでください（4桁のコードを入力するか、名前・カナで検索して選択）。")
            )
        if re.fullmatch(r"[0-9]+", typed):
            if len(typed) != 4:
                raise ValidationError(_l("金融機関コードは4桁の数字で入力してください。"))
            raise ValidationError(_l("金融機関コード「%(code)s」は金融機関の一覧にありません。", code=typed))
        self.search_bank()
        if self.bank_results:
            raise ValidationError(_l("候補の一覧から金融機関を選んでください。"))
        raise ValidationError(
            _l("「%(query)s」に当てはまる金融機関は見つかりませんでした。", query=field.data)
        )

    def validate_branch_query(self, field):
        if field.errors or self.bank is None or self.branch is not None:
            return
        code = _digits(self.branch_code.data)
        typed = _digits(field.data)
        if code:
            raise ValidationError(_l("選んだ支店が一覧にありません。選び直してください。"))
        if not typed:
            raise ValidationError(
                _l("支店を選んでください（3桁のコードを入力するか、名前・カナで検索して選択）。")
            )
        if re.fullmatch(r"[0-9]+", typed):
            if len(typed) != 3:
                raise ValidationError(_l("支店コードは3桁の数字で入力してください。"))
            raise ValidationError(
                _l("支店コード「%(code)s」は%(bank)sの支店にありません。", code=typed, bank=self.bank.name)
            )
        self.search_branch()
        if self.branch_results:
            raise ValidationError(_l("候補の一覧から支店を選んでください。"))
        raise ValidationError(
            _l(
                "%(bank)sに「%(query)s」に当てはまる支店は見つかりませんでした。",
                bank=self.bank.name,
                query=field.data,
            )
        )

    def values(self) -> dict:
        return {
            "purpose": self.purpose.data,
            "bank_code": self.bank.code,
            "branch_code": self.branch.code,
            "account_type": self.account_type.data,
            "account_number": self.account_number.data,
            "holder_kana": self.holder_kana.data,
            "valid_from": self.valid_from.data,
        }

    def seen(self) -> str:
        return (self.seen_rent if self.purpose.data == "rent" else self.seen_parking).data or ""


def _current(household_id: int) -> dict:
    return {purpose: bank_transfers.current_of(household_id, purpose) for purpose, _ in TRANSFER_PURPOSES}


def _describe(transfer: BankTransfer | None) -> dict:
    """A registration as the screens show it (account number masked), for the confirm and 409 views."""
    if transfer is None:
        return {}
    bank, branch = banks.names(transfer.bank_code, transfer.branch_code)
    return {
        "purpose": dict(TRANSFER_PURPOSES).get(transfer.purpose, transfer.purpose),
        "bank": f"{bank.name}（{transfer.bank_code}）" if bank else transfer.bank_code,
        "branch": f"{branch.name}（{transfer.branch_code}）" if branch else transfer.branch_code,
        "account_type": dict(ACCOUNT_TYPES).get(transfer.account_type, transfer.account_type),
        "account_number": mask_account(transfer.account_number),
        "holder_kana": transfer.holder_kana,
        "valid_from": transfer.valid_from.isoformat(),
        "transfer": transfer,
    }


def _conflict_rows(form: TransferForm, current: BankTransfer | None) -> list[tuple[str, str, str]]:
    theirs = _describe(current)
    mine = {
        "bank": f"{form.bank.name}（{form.bank.code}）",
        "branch": f"{form.branch.name}（{form.branch.code}）",
        "account_type": dict(ACCOUNT_TYPES).get(form.account_type.data, ""),
        "account_number": mask_account(form.account_number.data),
        "holder_kana": form.holder_kana.data,
        "valid_from": form.valid_from.data.isoformat(),
    }
    labels = {
        "bank": _("金融機関"),
        "branch": _("支店"),
        "account_type": _("預金種目"),
        "account_number": _("口座番号"),
        "holder_kana": _("口座名義（カナ）"),
        "valid_from": _("開始日"),
    }
    return [(labels[k], mine[k], theirs.get(k, "")) for k in labels if mine[k] != theirs.get(k, "")]


@bp.route("/household/<int:household_id>/transfers/new", methods=["GET", "POST"])
def register(household_id: int):
    """Register an account for rent or parking (入力 → 確認 → 登録); the current one ends the day before."""
    household = inline.household_or_404(household_id, section=SECTION)
    title = _("口座振替の登録")
    current = _current(household.id)
    if request.method == "GET":
        purpose = request.args.get("purpose")
        form = TransferForm(
            formdata=None,
            purpose=purpose if purpose in dict(TRANSFER_PURPOSES) else "rent",
            account_type="ordinary",
            seen_rent=bank_transfers.seen_token(current["rent"]),
            seen_parking=bank_transfers.seen_token(current["parking"]),
        )
        return inline.form_response(
            FORM_TEMPLATE, title=title, household=household, form=form, section=SECTION
        )

    form = TransferForm()
    op = request.form.get("op", "")
    op = op if _OP.fullmatch(op) else ""
    context = {"household": household, "form": form, "section": SECTION, "title": title}
    confirmed = request.form.get("confirmed") == "1" and op in ("", "save")

    if op and op not in ("confirm", "save"):
        return _step(form, op, context)

    form.resolve()
    if not form.validate_on_submit():
        return _from_top(inline.form_response(FORM_TEMPLATE, status=422, **context))
    replacing = current.get(form.purpose.data)
    if not confirmed:
        return _confirmation(form, replacing, context)
    try:
        bank_transfers.register(household, form.values(), seen=form.seen(), **audit_context())
    except bank_transfers.Superseded as exc:
        # Saving again from here replaces what is registered now, knowingly.
        token = bank_transfers.seen_token(exc.current)
        (form.seen_rent if form.purpose.data == "rent" else form.seen_parking).data = token
        context["conflict"] = _conflict_rows(form, exc.current)
        return _confirmation(form, exc.current, context, status=409)
    except editing.RuleViolation as exc:
        inline.attach(form, exc)
        return _from_top(inline.form_response(FORM_TEMPLATE, status=422, **context))
    return inline.saved(household, SECTION, _("口座振替を登録しました。"))


def apply_step(form: TransferForm, op: str) -> None:
    """Apply a step of filling the form to its fields: pick a bank (bank:<code>) or a branch
    (branch:<code>), or go back to change one (change_bank, change_branch); then resolve the codes."""
    if op.startswith("bank:"):
        form.bank_code.data, form.branch_code.data = op[5:], ""
        form.bank_query.data = form.branch_query.data = None
        form.bank_query.raw_data = form.branch_query.raw_data = []
    elif op.startswith("branch:"):
        form.branch_code.data = op[7:]
        form.branch_query.data, form.branch_query.raw_data = None, []
    elif op == "change_bank":
        form.bank_code.data = form.branch_code.data = ""
    elif op == "change_branch":
        form.branch_code.data = ""
    form.resolve()


def search_next(form: TransferForm) -> None:
    """The list to choose from next: the banks until one is chosen, then its branches."""
    if form.bank is None:
        form.search_bank()
    elif form.branch is None:
        form.search_branch()


def _step(form: TransferForm, op: str, context: dict):
    """A step of filling the form (search, pick, change): the form again, no errors shown yet."""
    # What was typed is already normalised (process_formdata); its messages wait for 確認.
    apply_step(form, op)
    if op.startswith("bank:") and form.bank is None:
        form.bank_query.errors = [_("選んだ金融機関が一覧にありません。選び直してください。")]
    if op.startswith("branch:") and form.branch is None and form.bank is not None:
        form.branch_query.errors = [_("選んだ支店が一覧にありません。選び直してください。")]
    search_next(form)
    return inline.form_response(FORM_TEMPLATE, **context)


def _confirmation(form: TransferForm, replacing: BankTransfer | None, context: dict, status: int = 200):
    ends_on = None
    if replacing is not None and form.valid_from.data:
        ends_on = form.valid_from.data - dt.timedelta(days=1)
    return _from_top(
        inline.form_response(
            CONFIRM_TEMPLATE,
            status=status,
            replacing=_describe(replacing),
            ends_on=ends_on,
            purpose_label=dict(TRANSFER_PURPOSES).get(form.purpose.data, ""),
            account_type_label=dict(ACCOUNT_TYPES).get(form.account_type.data, ""),
            **context,
        )
    )


def _from_top(answer):
    """The next step (the confirmation, or the messages) is read from its top: htmx scrolls the
    swapped form there, whatever the place of the button that was pressed in the long form."""
    response = make_response(answer)
    if inline.wants_fragment():
        response.headers["HX-Reswap"] = "outerHTML show:top"
    return response


# --- ending a registration (口座振替の廃止) ----------------------------------------------------------


class EndForm(FlaskForm):
    """口座振替の廃止: the last day the account is used; no new registration replaces it."""

    version = VersionField()
    valid_to = DateInputField(
        _l("終了日"), [required()], description=_l("この日までの分をこの口座から振り替えます。")
    )

    columns = {"valid_to": "valid_to"}

    def __init__(self, *args, valid_from=None, **kwargs):
        super().__init__(*args, prefix="end_", **kwargs)
        self.valid_from = valid_from

    def validate_valid_to(self, field):
        if field.data and self.valid_from and field.data < self.valid_from:
            raise ValidationError(_l("終了日は開始日以降の日付にしてください。"))


@bp.route("/household/<int:household_id>/transfers/<int:transfer_id>/end", methods=["GET", "POST"])
def end(household_id: int, transfer_id: int):
    """End a registration without a replacement (口座振替の廃止); 409 when it changed meanwhile."""
    household = inline.household_or_404(household_id, section=SECTION)
    transfer = BankTransfer.get_or_none(
        (BankTransfer.id == transfer_id) & (BankTransfer.household == household.id)
    )
    if transfer is None:
        abort(404)
    form = EndForm(obj=transfer, version=transfer.version, valid_from=transfer.valid_from)

    def values(form):
        # A stale form gets the 409 (services.editing) with both versions rather than this message.
        if transfer.valid_to is not None and form.version.data == transfer.version:
            raise editing.RuleViolation(_("この口座振替はすでに終了しています。"))
        return {"valid_to": form.valid_to.data}

    return inline.edit_record(
        form=form,
        instance=transfer,
        household=household,
        section=SECTION,
        template=END_TEMPLATE,
        action="bank_transfer.end",
        values=values,
        message=_("口座振替を終了しました。"),
        title=_("口座振替の廃止"),
        context={"transfer": transfer, "described": _describe(transfer)},
    )


# --- the bank list --------------------------------------------------------------------------------


def _query(name: str) -> str:
    raw = request.form.get(name, "")
    if not isinstance(raw, str) or len(raw) > QUERY_MAX:
        return ""
    try:
        return kana.normalize_text(raw)
    except ValueError:
        return ""


@bp.post("/banks/search")
def bank_search():
    """Banks matching the typed code, name or reading: the list of picks (a fragment)."""
    query = _query(PREFIX + "bank_query")
    results = banks.search_banks(query) if query else None
    return render_template("staff/banks/_bank_results.html", results=results, query=query)


@bp.post("/banks/branches")
def branch_search():
    """Branches of the chosen bank (the hidden bank_code, or a 4-digit code typed) matching the query."""
    code = _digits(request.form.get(PREFIX + "bank_code", "")[:8])
    if not code:
        typed = _digits(request.form.get(PREFIX + "bank_query", "")[:QUERY_MAX])
        code = typed if re.fullmatch(r"[0-9]{4}", typed) else ""
    bank = banks.bank(code)
    query = _query(PREFIX + "branch_query")
    results = banks.search_branches(bank.code, query) if bank and query else None
    return render_template("staff/banks/_branch_results.html", results=results, query=query, bank=bank)
