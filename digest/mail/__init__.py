"""Mail: compose each reader's email, send it over SMTP or to the outbox, exactly once."""
