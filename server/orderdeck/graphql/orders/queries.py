"""GraphQL queries of the orders area."""
