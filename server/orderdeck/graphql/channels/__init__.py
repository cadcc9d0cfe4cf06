"""GraphQL: channels, their listings and sync runs, and the installed channel plugins."""
