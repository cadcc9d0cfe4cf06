"""GraphQL: stock."""
