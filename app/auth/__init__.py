"""Staff authentication and authorisation: accounts, the permission matrix, and the web guard."""
