"""Table Storage and queues: the clients (Azurite or identity-based) and one repository per table
(Integrations, SyncRuns, TagMappings, EventState, LineageMappings)."""
