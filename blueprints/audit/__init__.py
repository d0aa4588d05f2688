"""The audit trail's officer and auditor side. For now only its commands (`flask audit …`, commands.py)."""
