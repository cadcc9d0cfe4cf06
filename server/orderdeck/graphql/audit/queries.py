"""GraphQL queries of the audit area."""
