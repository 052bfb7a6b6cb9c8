"""The reference application's caching patterns and the load generator."""
