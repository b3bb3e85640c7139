"""Guest specialists: one-time invitations to one case's room and call, and their sessions."""
