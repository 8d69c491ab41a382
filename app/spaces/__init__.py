"""Spaces: a user's personal space and the teams they belong to (sql/0080_spaces.sql).

`store.py` finds the spaces a user may act in, each as an `app.core.policy.Space` carrying the
user's role there; what a role may do is `app.core.policy`. Teams, members and invitations are
managed here too (docs/teams.md)."""
