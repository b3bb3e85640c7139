"""The audit trail: every access and change, hash-chained, written in the same transaction."""
