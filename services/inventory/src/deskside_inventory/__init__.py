"""Deskside inventory: the technology catalog, devices (BYOD) and accounts (BYOS)."""
