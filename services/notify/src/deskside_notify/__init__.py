"""Deskside notify: events become emails and signed webhooks."""
