"""GraphQL mutations of the orders area."""
