"""Consultation cases: request, triage, schedule, notes, attachments, decisions, minutes."""
