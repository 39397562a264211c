"""The session strategy: server-side sessions behind an opaque cookie."""
