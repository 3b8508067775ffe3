from pathlib import Path

from shopcommon.services import ServiceSpec

SPEC = ServiceSpec(
    name="product-stub",
    port=9003,
    env_prefix="PRODUCT_",
    app_factory="product_stub.main:create_app",
    database="product",
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    demo_data="product_stub.demo:load_demo_data",
    start_order=10,
    description="ProductService: catalogue, get_product, list_skus",
)
