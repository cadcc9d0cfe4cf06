"""GraphQL queries of the stock area."""
