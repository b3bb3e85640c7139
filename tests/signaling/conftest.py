"""Fixtures of the signaling tests. (The call participants a test makes, ``callers``, and
the Janus in a network namespace are in tests/conftest.py: the guest and browser tests
use them too.)"""
