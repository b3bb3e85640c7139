"""Statistics for administrators, and the reference directory the pages offer."""
