"""Delay notifications: alert rules applied in the event's transaction, the outbox, signed webhooks and the
dispatcher that delivers them."""
