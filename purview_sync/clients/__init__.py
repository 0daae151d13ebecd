"""One client per external API (Purview, Qualytics, Key Vault / secrets, Entra credentials) on one shared
HTTP layer (session, retry policy, limiter); the connection proof that names a failure's cause."""
