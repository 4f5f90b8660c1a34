"""Sample material for new users: a strategy to register (read as text, never imported)."""
