"""Everything the shopping domain serves: route256's RPC endpoints, carts and the catalogue, orders
and their fulfilment tasks."""

from fastapi import APIRouter

from checkout.shopping import api_cart, api_orders, api_products, api_rpc, api_tasks

router = APIRouter()
router.include_router(api_rpc.router)
router.include_router(api_cart.router)
router.include_router(api_products.router)
router.include_router(api_orders.router)
router.include_router(api_tasks.router)
