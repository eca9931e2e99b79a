"""The HTTP service: app factory, resources, schemas, auth, errors, CLI."""
