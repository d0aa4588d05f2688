"""Every 別添1 item that staff record can be edited from the household file of a demo household.

The test starts from the household page, opens every form linked from it (and the forms those
link to: the parking lot of the household's contract), and collects the labels of their fields. Each
別添1 item must be the label of a field (or, for a figure the system computes, the field it is
computed from, named below). Three items are decisions under 公営住宅法, not typed values: they are
shown on the page and set by the decisions the rent engine records (家賃決定, 収入超過者・高額所得者の認定).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.test_forms_fuzz import PageParser
from tests.test_household_page import (  # noqa: F401 - fixtures
    BETTEN1,
    app,
    demo_template,
    enrich,
    full_household,
)

# 別添1 item → the label of the field that records it, where the two differ.
ENTERED_AS = {
    "年齢": "生年月日",  # computed from 生年月日
    "世帯主氏名": "新しい名義人",  # the head changes by 使用承継
    "世帯員名": "氏名",
    "住宅コード": "住替え先の住戸",  # the unit changes by 住替え
    "住宅名": "住替え先の団地",
    "棟番号": "住替え先の住戸",
    "部屋番号": "住替え先の住戸",
    "入居日": "新しい住戸の入居日",
    "退去日": "退去日（最終日）",
    "収入額": "給与収入",
    "所得額": "その他の所得",  # 給与所得・雑所得 are computed from the 収入額 entered
    "控除額": "扶養親族",  # deductions follow from the members' circumstances entered
    "政令月収": "給与収入",  # computed from the declaration
    "収納年月日": "収納日",
    "障害者手帳": "障害者手帳の種類",
    "種類": "障害者手帳の種類",
    "生活保護": "住宅扶助額",
    "住宅使用料・駐車場使用料口座振替登録": "口座名義（カナ）",
    "駐車場所在団地": "区画",  # a space of a lot of the estate
    "自治会": "自治会",
    "区画番号": "区画",
    "住宅使用料調定額": "調定額",
    "駐車場使用料調定額": "調定額",
    "未納額": "収納額",  # 調定額 − 減免額 − 収納額
    "損害賠償金": "調定額",  # a 損害賠償金 charge is corrected like any charge
}
DECIDED = {
    "住宅使用料": "家賃決定",
    "収入超過": "収入超過者の認定",
    "高額所得": "高額所得者の認定",
}


class Labels(HTMLParser):
    """The text of every <label> and <legend>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: set[str] = set()
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("label", "legend"):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("label", "legend") and self._text is not None:
            text = re.sub(r"\s+", " ", "".join(self._text)).strip()
            self.found.add(text.removesuffix(" 必須").strip())
            self._text = None


def form_labels(client, hid: int) -> set[str]:
    page = client.get(f"/staff/household/{hid}").get_data(as_text=True)
    parser = PageParser()
    parser.feed(page)
    targets = {link.split("#")[0] for link in parser.links}
    urls = sorted(
        t
        for t in targets
        if t.startswith((f"/staff/household/{hid}/", "/staff/parking/lots/")) and "/section/" not in t
    )
    labels: set[str] = set()
    for url in urls:
        response = client.get(url, headers={"HX-Request": "true"})
        if response.status_code != 200:
            continue
        html = response.get_data(as_text=True)
        found = Labels()
        found.feed(html)
        labels |= found.found
        inner = PageParser()
        inner.feed(html)
        for link in inner.links:  # one level further: the lot's edit form from the lot page
            if link.startswith("/staff/parking/lots/") and link.endswith("/edit"):
                more = Labels()
                more.feed(client.get(link, headers={"HX-Request": "true"}).get_data(as_text=True))
                labels |= more.found
    return labels


def test_every_betten1_item_is_editable_from_the_household_file(app, staff_client):  # noqa: F811
    hid = full_household(app)
    enrich(app, hid, staff_client.user)
    labels = form_labels(staff_client, hid)
    missing = []
    for group, items in BETTEN1.items():
        for item in items:
            if item in DECIDED:
                continue
            wanted = ENTERED_AS.get(item, item)
            if not any(label == wanted or label.startswith(wanted) for label in labels):
                missing.append(f"{group}: {item} (field {wanted})")
    assert missing == [], missing


def test_the_decided_items_are_on_the_page(app, staff_client):  # noqa: F811
    hid = full_household(app)
    enrich(app, hid, staff_client.user)
    page = staff_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    for item in DECIDED:
        assert item in page
    assert "家賃決定" in page and "認定" in page
