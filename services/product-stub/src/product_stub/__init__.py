"""ProductService: the catalogue of the instrument shop, with the route256 RPC endpoints."""
