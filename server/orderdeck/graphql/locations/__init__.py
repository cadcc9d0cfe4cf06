"""GraphQL: locations."""
