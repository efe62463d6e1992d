"""Published JSON Schemas (package data): manifest, snapshot and fault rule documents."""
