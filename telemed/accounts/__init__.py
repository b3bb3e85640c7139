"""Accounts and organisations: facilities, councils, users, sign-in sessions."""
