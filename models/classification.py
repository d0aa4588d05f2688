"""Classification of every column (SECURITY.md, Data protection). One place; a test fails on any gap.

C3 特定個人情報: My Number (ciphertext and its blind index) — encrypted, never displayed unmasked
   without purpose + step-up, never exported.
C2 要配慮個人情報 / financial: income, tax-derived figures, welfare, disability, DV support, bank
   accounts, arrears and payments, nationality, free-text notes about people.
C1 basic personal information: names, kana, dates of birth, addresses, phones, relations, dates of
   a household's life, identifiers of people (宛名番号).
C0 public or operational: estates, units, masters, codes, workflow states, ids and timestamps.

Identifiers, timestamps, the version column and foreign keys are C0 (they reference, not describe).
"""

from __future__ import annotations

LEVELS = ("C0", "C1", "C2", "C3")
COMMON_C0 = frozenset({"id", "created_at", "updated_at", "version"})

_SPEC: dict[str, dict[str, str]] = {
    "office": {"C0": "code name postal_code address phone"},
    "ward": {"C0": "code name"},
    "estate": {"C0": "code name name_kana postal_code address residents_association note"},
    "building": {"C0": "number structure year_built floors has_elevator"},
    "unit": {"C0": "housing_code room_number floor_area layout floor unit_type status note"},
    "unit_year_figure": {"C0": "fiscal_year convenience_coefficient market_rent"},
    "user": {
        "C1": "login_id display_name",
        "C0": "role active deactivated_at contract_end_date last_login_at",
    },
    "household": {
        "C0": "household_no category permit_type status",
        "C1": "first_move_in_date permit_end_date mail_name mail_postal_code mail_address contact_name "
        "contact_phone declaration_category",
        "C2": "special_reason proxy_payment over_income high_income support_measure note",
    },
    "tenancy": {
        "C1": "move_in_date move_out_date status reason deposit_settled_on",
        "C2": "deposit repair_cost deposit_refund settlement_due",
    },
    "guarantor": {
        "C0": "kind",
        "C1": "name name_kana birth_date relation postal_code address phone appointed_on dismissed_on",
    },
    "bank_transfer": {
        "C0": "purpose",
        "C2": "bank_code branch_code account_type account_number holder_kana valid_from valid_to",
    },
    "rent_reduction": {
        "C0": "kind status",
        "C2": "reason rate amount minimum_rent start_date end_date approved_at note",
    },
    "person": {
        "C1": "name name_kana kana_key birth_date sex postal_code address phone relation is_head member_from "
        "member_to leave_reason deceased_on atena_no",
        "C2": "nationality disability_kind disability_grade",
    },
    "welfare_period": {"C2": "start_date end_date housing_aid proxy_payment case_number"},
    "personal_number": {"C3": "ciphertext blind_index", "C0": "key_id checked_against_document"},
    "household_event": {"C0": "kind", "C1": "event_date", "C2": "detail"},
    "parking_lot": {"C0": "code name residents_association monthly_fee"},
    "parking_space": {"C0": "space_no monthly_fee status"},
    "parking_contract": {
        "C0": "status",
        "C1": "start_date end_date monthly_fee note",
        "C2": "reduction_amount extra_space_reason",
    },
    "vehicle": {
        "C1": "registration_no model chassis_no owner_name user_name inspection_expiry valid_from valid_to"
    },
    "income_declaration": {
        "C0": "fiscal_year income_year",
        "C1": "status sent_on submitted_on reminded_on",
        "C2": "source total_income total_deduction seirei_getsushu bracket masters_used explanation computed_at "
        "status_note",
    },
    "member_income": {
        "C2": "salary_revenue pension_revenue other_income non_taxable_revenue salary_income pension_income "
        "income_amount deduction_amount is_dependent is_widow is_single_parent disability",
    },
    "remote_dependent": {"C1": "name birth_date", "C2": "disability"},
    "rent_run": {
        "C0": "fiscal_year state started_at finished_at approved_at households_total households_done",
    },
    "rent_run_item": {
        "C0": "reasons problem",
        "C2": "previous_rent rent resident_three_years",
    },
    "rent_decision": {
        "C0": "fiscal_year kind effective_from market_rent state decided_on objection_deadline masters_used",
        "C2": "seirei_getsushu bracket base_amount standard_rent rent_status years_over rent deposit explanation",
    },
    "certification": {"C0": "fiscal_year kind state certified_on", "C2": "seirei_getsushu years_over"},
    "eviction_request": {
        "C0": "ground status approved_at",
        "C2": "requested_on deadline extended_until extension_reason vacated_on market_rent_multiplier "
        "extension_requested_on extension_requested_until note",
    },
    "rent_review": {
        "C0": "kind fiscal_year status decided_at",
        "C1": "received_on",
        "C2": "content late_reason answer",
    },
    "charge": {
        "C0": "kind period source_key due_date cancelled original_due_date",
        "C2": "amount reduction_amount note",
    },
    "transfer_batch": {
        "C0": "purpose billing_month withdrawal_date state records file_sha256 result_imported_at",
        "C2": "total",
    },
    "payment": {"C0": "method reversed", "C2": "amount receipt_date posted_date note"},
    "arrears_action": {"C0": "kind", "C2": "action_date amount_due months_due note next_action_date"},
    "installment_plan": {
        "C0": "status",
        "C2": "total_amount monthly_amount start_month months acknowledged_on",
    },
    "damage_claim": {
        "C0": "ground",
        "C2": "from_date to_date monthly_amount principal interest interest_rate explanation",
    },
    "notice_run": {"C0": "kind fiscal_year pages file_sha256 file_removed_at"},
    "notice": {"C0": "kind fiscal_year document_no issued_on subject_table subject_id page"},
    "job": {
        "C0": "kind params state done total message error result_table result_id attempts started_at "
        "finished_at heartbeat_at"
    },
    "inquiry": {
        "C0": "channel status",
        "C1": "received_at answered_at",
        "C2": "subject content answer",
    },
    "disclosure_request": {
        "C0": "kind status decision",
        "C1": "requester_name requester_kana received_on deadline extended_deadline extension_notified_on "
        "decided_on",
        "C2": "content note",
    },
    "household_application": {
        "C0": "kind state",
        "C1": "received_on decided_on attachments",
        "C2": "details comment",
    },
    "move_procedure": {"C0": "kind", "C1": "keys_handed_on inspection_on repair_needs"},
    "repair_request": {"C0": "status", "C1": "received_on content completed_on"},
    "pending_change": {
        "C0": "target_table target_id target_version action state submitted_at reviewed_at",
        "C2": "payload before comment",
    },
    "pending_my_number": {"C3": "ciphertext", "C0": "key_id checked_against_document"},
    "import_batch": {
        "C0": "source file_name file_sha256 encoding state rows_total rows_rejected",
        "C1": "report",
    },
    "match_finding": {"C0": "kind status resolved_at", "C2": "detail resolution_note"},
    "training_record": {"C0": "fiscal_year course completed_on note"},
    "incident": {
        "C0": "occurred_on discovered_at severity escalated_at status closed_on",
        "C2": "summary detail measures",
    },
    "deletion_record": {"C0": "kind subject_table subject_id reason"},
    "application": {
        "C0": "application_no category status",
        "C1": "received_on postal_code address phone city_basis eligible",
        "C2": "special_reason housing_need city_tax_arrears declared_not_gang_member seirei_getsushu "
        "eligibility_explanation",
    },
    "application_member": {
        "C1": "name name_kana birth_date sex relation",
        "C2": "salary_revenue pension_revenue other_income disability_kind disability_grade disability "
        "is_widow is_single_parent",
    },
    "credential": {
        "C0": "credential_id public_key sign_count transports aaguid device_type backed_up last_used_at revoked_at",
        "C1": "nickname",
    },
    "webauthn_challenge": {"C0": "challenge_hash purpose expires_at"},
    "enrollment_link": {"C0": "token_hash expires_at used_at revoked_at"},
    "recovery_request": {"C0": "state", "C1": "identity_check"},
    "user_session": {
        "C0": "token_hash last_seen_at expires_at stepped_up_at revoked_at revoked_reason",
        "C1": "user_agent",
    },
    "audit_entry": {
        "C0": "at actor_id actor_role office_id session_ref action target_table target_ids fields purpose "
        "outcome reason prev_hmac hmac",
        "C1": "actor_login ip",
        "C2": "changes",
    },
    "support_assignment": {"C2": "ended_at"},
    "master_parameter": {"C0": "code valid_from value basis note"},
    "rent_base_band": {"C0": "valid_from bracket income_min income_max base_amount"},
    "over_income_rate": {"C0": "valid_from band income_min income_max year_over numerator denominator"},
    "salary_income_band": {"C0": "income_year_from revenue_min revenue_max round_to rate offset"},
    "pension_deduction_band": {"C0": "income_year_from age_group revenue_min revenue_max rate offset"},
}

CLASSIFICATION: dict[str, dict[str, str]] = {
    table: {column: level for level, columns in spec.items() for column in columns.split()}
    for table, spec in _SPEC.items()
}


def classify(table: str, column: str, is_foreign_key: bool = False) -> str | None:
    """The class of a column, or None when it is not classified (which the test treats as a failure)."""
    if column in COMMON_C0 or is_foreign_key:
        return "C0"
    return CLASSIFICATION.get(table, {}).get(column)


def columns_of_level(level: str) -> list[tuple[str, str]]:
    """(table, column) pairs of one class: what a canary scan or an export filter looks at."""
    return sorted((t, c) for t, cols in CLASSIFICATION.items() for c, lvl in cols.items() if lvl == level)
