"""Accounts: users, their passwords, and failed-login counting."""
