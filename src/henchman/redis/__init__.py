"""Talking to Redis/Valkey: connection URLs, Lua scripts and the embedded server."""
