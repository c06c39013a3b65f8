"""The Deskside gateway: one public entry point in front of the services."""
