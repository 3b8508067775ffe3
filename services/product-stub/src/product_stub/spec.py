from shopcommon.services import ServiceSpec

SPEC = ServiceSpec.for_package(
    "product_stub",
    port=9003,
    start_order=10,
    description="ProductService: catalogue, get_product, list_skus",
    env_prefix="PRODUCT_",
    database="product",
)
