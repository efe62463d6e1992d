"""Published JSON Schemas (package data): manifest, snapshot, fault rule and audit trail documents."""
