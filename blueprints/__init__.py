"""Blueprints: one package per front door (main, auth, staff, portal, audit)."""
