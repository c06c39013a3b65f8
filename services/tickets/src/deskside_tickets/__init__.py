"""Deskside tickets: contacts, their lifecycle, and the help actually given."""
