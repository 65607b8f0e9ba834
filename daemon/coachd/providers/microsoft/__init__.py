"""Microsoft 365: Outlook calendar, mail and free/busy through Graph (accepted by the config; built in a later version)."""
