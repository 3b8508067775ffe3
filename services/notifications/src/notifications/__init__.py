"""The notifications service: order events from LOMS told to customers by email, web push and SSE."""
