"""What LOMS reads from the other services over HTTP: skus' categories (product-stub) and the
workers who fulfil them (checkout's users API)."""
