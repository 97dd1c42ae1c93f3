"""Tenants, their API users, campaigns and status definitions: configuration kept in Postgres."""
