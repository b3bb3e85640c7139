"""Notifications: stored per user with the change that causes them, the inbox, reminders
before a scheduled session, and (optionally) email. Live delivery stays in
``telemed/realtime``; this package only decides who is told what and keeps it."""
