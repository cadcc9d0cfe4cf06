"""orderdeck: open multichannel order management as a GraphQL service."""

__version__ = "0.1.0"
