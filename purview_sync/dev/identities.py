"""The fixed identities of the local run: tenant, app registration, managed identities, tokens, account.

Simulator credentials only (printed for the local run); shared by the environment, the estate and the tests.
"""

TENANT_ID = "8f0c2a3e-5d6b-4c7a-9e10-2b3c4d5e6f70"
APP_CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APP_CLIENT_SECRET = "dev-client-secret-value"  # a simulator credential, printed for the local run
MI_SYSTEM_CLIENT_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
MI_USER_CLIENT_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
QUALYTICS_TOKEN = "dev-qualytics-token"
PURVIEW_ACCOUNT = "contoso"
