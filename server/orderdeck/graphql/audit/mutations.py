"""GraphQL mutations of the audit area."""
