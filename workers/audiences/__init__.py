"""Audience sync (GAP-007): segment membership carried to Meta Custom Audiences by diff."""
