"""What admins and sponsors read: sponsor figures, charts, the report, status, the dry run and previews."""
