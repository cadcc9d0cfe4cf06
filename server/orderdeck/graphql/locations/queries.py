"""GraphQL queries of the locations area."""
