"""User directory: reading user-import CSV files, phone numbers and nickname search keys."""
