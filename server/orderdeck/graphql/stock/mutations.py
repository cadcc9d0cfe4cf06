"""GraphQL mutations of the stock area."""
