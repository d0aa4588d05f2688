"""The data model, one module per aggregate. ALL_MODELS lists every table in dependency order."""

from __future__ import annotations

from peewee import sort_models

from models.applicants import Application, ApplicationMember
from models.audit import AuditEntry
from models.base import BaseModel, ConflictError, EditableModel, TimestampedModel, utcnow
from models.billing import ArrearsAction, Charge, DamageClaim, InstallmentPlan, Payment, TransferBatch
from models.governance import DeletionRecord, Incident, TrainingRecord
from models.housing import Building, Estate, Unit, UnitYearFigure, Ward
from models.income import (
    Certification,
    EvictionRequest,
    IncomeDeclaration,
    MemberIncome,
    RemoteDependent,
    RentDecision,
    RentReview,
    RentRun,
)
from models.jobs import Job
from models.masters import (
    MasterParameter,
    OverIncomeRate,
    PensionDeductionBand,
    RentBaseBand,
    SalaryIncomeBand,
)
from models.matching import ImportBatch, MatchFinding
from models.notices import Notice, NoticeRun
from models.parking import ParkingContract, ParkingLot, ParkingSpace, Vehicle
from models.person import HouseholdEvent, Person, PersonalNumber, WelfarePeriod
from models.rent_runs import RentRunItem
from models.requests import (
    DisclosureRequest,
    HouseholdApplication,
    Inquiry,
    MoveProcedure,
    PendingChange,
    PendingMyNumber,
    RepairRequest,
)
from models.security import (
    Credential,
    EnrollmentLink,
    Office,
    RecoveryRequest,
    User,
    UserSession,
    WebAuthnChallenge,
)
from models.tenancy import BankTransfer, Guarantor, Household, RentReduction, SupportAssignment, Tenancy

ALL_MODELS = sort_models(
    [
        Office, User, Ward, Estate, Building, Unit, UnitYearFigure,
        Household, Tenancy, Guarantor, BankTransfer, RentReduction,
        Person, WelfarePeriod, PersonalNumber, HouseholdEvent,
        ParkingLot, ParkingSpace, ParkingContract, Vehicle,
        IncomeDeclaration, MemberIncome, RemoteDependent, RentRun, RentDecision, Certification, EvictionRequest,
        RentReview, RentRunItem,
        Charge, TransferBatch, Payment, ArrearsAction, InstallmentPlan, DamageClaim,
        Job, NoticeRun, Notice,
        Inquiry, DisclosureRequest, HouseholdApplication, MoveProcedure, RepairRequest, PendingChange, PendingMyNumber,
        ImportBatch, MatchFinding,
        TrainingRecord, Incident, DeletionRecord,
        Application, ApplicationMember,
        MasterParameter, RentBaseBand, OverIncomeRate, SalaryIncomeBand, PensionDeductionBand,
        Credential, WebAuthnChallenge, EnrollmentLink, RecoveryRequest, UserSession, AuditEntry,
        SupportAssignment,
    ]
)  # fmt: skip

__all__ = [m.__name__ for m in ALL_MODELS] + [
    "ALL_MODELS",
    "BaseModel",
    "ConflictError",
    "EditableModel",
    "TimestampedModel",
    "utcnow",
]
