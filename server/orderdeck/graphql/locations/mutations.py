"""GraphQL mutations of the locations area."""
