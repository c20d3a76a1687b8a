"""Audit a new activation function: its derivative, kinks, finite range, frameworks, networks."""

from deltacheck.audit.runner import AuditConfig, audit_one, exit_code, run

__all__ = ["AuditConfig", "audit_one", "exit_code", "run"]
