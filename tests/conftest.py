"""Shared test fixtures. Tests make their own small data; nothing touches the network."""
