"""Pulumi dynamic providers. Each module holds one stateless provider class,
pickled by reference into the state: no clients, no credentials, no keys."""
