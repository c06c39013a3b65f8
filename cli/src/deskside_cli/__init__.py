"""The `deskside` command line."""
