"""The HTTP API of the order-lifecycle service (FastAPI): routers, schemas, auth, errors."""
