"""Database plumbing shared by every domain package: engine, sessions, migrations."""
