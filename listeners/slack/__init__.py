"""Slack: the notifier (alerts into channels) and the Bolt app (slash commands, buttons)."""

from listeners.slack import app, notifier  # noqa: F401  (register the notifier and listener)
