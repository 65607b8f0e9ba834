"""Google Workspace: Google Calendar, Gmail and free/busy (accepted by the config; built in a later version)."""
