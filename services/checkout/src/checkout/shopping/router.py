"""Everything the shopping domain serves: route256's RPC endpoints, carts and the catalogue, orders."""

from fastapi import APIRouter

from checkout.shopping import router_orders, router_rest, router_rpc

router = APIRouter()
router.include_router(router_rpc.router)
router.include_router(router_rest.router)
router.include_router(router_orders.router)
