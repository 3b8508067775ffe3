"""HTTP routers (thin), their schemas and dependencies."""
