"""Use cases behind the routers."""
