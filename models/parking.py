"""Parking (駐車場): lots in estates, spaces, contracts with a household member, and vehicles.

One active contract per space (partial unique index). One active contract per household as well,
unless an officer approved an additional space (駐車場の2区画目): such a contract carries the approving
officer and the reason (extra_space_approved_by / extra_space_reason). services/parking.py enforces
that rule under a lock on the household (no index: households that already hold two spaces from
before the rule keep them).
"""

from __future__ import annotations

from peewee import SQL, CharField, DateField, ForeignKeyField, TextField

from models.base import CodeField, EditableModel, YenField
from models.housing import Estate
from models.person import Person
from models.security import User
from models.tenancy import Household

SPACE_STATUSES = (("available", "空き"), ("contracted", "契約中"), ("closed", "使用不可"))
CONTRACT_STATUSES = (("active", "使用中"), ("ended", "廃止"))


class ParkingLot(EditableModel):
    """A parking lot of an estate, run with its 自治会 (residents' association)."""

    estate = ForeignKeyField(
        Estate, backref="parking_lots", on_delete="RESTRICT", verbose_name="駐車場所在団地"
    )
    code = CharField(max_length=16, verbose_name="駐車場コード")
    name = CharField(max_length=100, verbose_name="駐車場名")
    residents_association = CharField(max_length=100, null=True, verbose_name="自治会")
    monthly_fee = YenField(verbose_name="駐車場使用料(標準)")

    class Meta:
        indexes = ((("estate", "code"), True),)


class ParkingSpace(EditableModel):
    """A numbered space (区画) of a lot."""

    lot = ForeignKeyField(ParkingLot, backref="spaces", on_delete="RESTRICT", verbose_name="駐車場")
    space_no = CharField(max_length=16, verbose_name="区画番号")
    monthly_fee = YenField(verbose_name="駐車場使用料")
    status = CodeField(SPACE_STATUSES, default="available", verbose_name="状態")

    class Meta:
        indexes = ((("lot", "space_no"), True),)


class ParkingContract(EditableModel):
    """The use of a space by a household; the 区画使用者 is a current member. One active contract per space."""

    space = ForeignKeyField(ParkingSpace, backref="contracts", on_delete="RESTRICT", verbose_name="区画")
    household = ForeignKeyField(
        Household, backref="parking_contracts", on_delete="RESTRICT", verbose_name="世帯"
    )
    user_person = ForeignKeyField(
        Person, backref="parking_contracts", on_delete="RESTRICT", verbose_name="区画使用者"
    )
    start_date = DateField(verbose_name="駐車場使用開始日")
    end_date = DateField(null=True, verbose_name="廃止日")
    monthly_fee = YenField(verbose_name="駐車場使用料")
    reduction_amount = YenField(default=0, verbose_name="減免額")
    status = CodeField(CONTRACT_STATUSES, default="active", verbose_name="状態")
    note = TextField(null=True, verbose_name="備考")
    extra_space_approved_by = ForeignKeyField(
        User, null=True, backref="+", on_delete="RESTRICT", verbose_name="2区画目の承認者"
    )
    extra_space_reason = CharField(max_length=200, null=True, verbose_name="2区画目の承認理由")

    class Meta:
        constraints = [
            SQL("CHECK (end_date IS NULL OR end_date >= start_date)"),
            SQL("CHECK (reduction_amount <= monthly_fee)"),
        ]


ParkingContract.add_index(
    ParkingContract.index(
        ParkingContract.space, unique=True, name="parking_contract_one_active_per_space"
    ).where(SQL("status = 'active'"))
)


class Vehicle(EditableModel):
    """A vehicle registered on a contract, with its 車検 (inspection) expiry."""

    contract = ForeignKeyField(
        ParkingContract, backref="vehicles", on_delete="RESTRICT", verbose_name="駐車場契約"
    )
    registration_no = CharField(max_length=30, verbose_name="車両登録番号")
    model = CharField(max_length=60, verbose_name="車種")
    chassis_no = CharField(max_length=30, null=True, verbose_name="車台番号")
    owner_name = CharField(max_length=100, verbose_name="車の所有者")
    user_name = CharField(max_length=100, verbose_name="車の使用者")
    inspection_expiry = DateField(null=True, index=True, verbose_name="車検有効期間")
    valid_from = DateField(verbose_name="登録日")
    valid_to = DateField(null=True, verbose_name="登録抹消日")
