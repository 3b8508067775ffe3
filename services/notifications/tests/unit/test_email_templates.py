import re

import pytest

from notifications.domain.events import OrderStatus, OrderStatusChanged
from notifications.email.render import EmailRenderer, build_message
from notifications.testing.events import order_event

renderer = EmailRenderer("http://shop.test")


def render(status: str, **extra: object) -> tuple[str, str, str]:
    event = OrderStatusChanged.model_validate(order_event(4321, 5, status, None, **extra))
    rendered = renderer.render(event, name="Nora <Tester>")
    return rendered.subject, rendered.text, rendered.html


@pytest.mark.parametrize("status", [s.value for s in OrderStatus])
def test_every_status_email_names_the_order_id_as_a_word_and_the_status(status: str) -> None:
    subject, text, html = render(status)
    for part in (subject, text):
        assert re.search(r"(?<![\w#])4321(?!\w)", part), part
    assert f"Status: {status}" in text
    assert f"<td>{status}</td>" in html


def test_awaiting_payment_says_the_amount_and_the_deadline() -> None:
    _, text, _ = render("awaiting payment", total_price=123456, payment_deadline="2030-01-02T03:04:00+00:00")
    assert "Amount due: 1,234.56" in text
    assert "2030-01-02 03:04 UTC" in text


@pytest.mark.parametrize(
    ("reason", "words"),
    [("customer", "You cancelled it"), ("timeout", "by timeout"), ("staff", "The shop cancelled it")],
)
def test_cancelled_says_why(reason: str, words: str) -> None:
    _, text, html = render("cancelled", reason=reason)
    assert words in text and words in html


def test_html_is_escaped_and_text_is_not() -> None:
    _, text, html = render("paid")
    assert "Nora &lt;Tester&gt;" in html
    assert "Nora <Tester>" in text


def test_the_message_has_text_and_html_parts_and_a_stable_message_id() -> None:
    event = OrderStatusChanged.model_validate(order_event(9, 5, "paid"))
    message = build_message(renderer.render(event), sender="s@shop.test", recipient="r@x.test", notification_id=77)
    assert message["Message-ID"] == "<notification-77@notifications.shop>"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]
    assert "your order 9 is paid" in message.get_payload()[0].get_payload(decode=True).decode()


def test_items_go_by_the_catalogues_names_and_by_sku_where_it_has_none() -> None:
    items = [{"sku": 1001, "count": 2, "price": 24999}, {"sku": 1002, "count": 1, "price": 100}]
    event = OrderStatusChanged.model_validate(order_event(9, 5, "paid", items=items))
    skus = [item.sku for item in event.items]
    assert len(skus) == 2
    rendered = renderer.render(event, products={skus[0]: "Fender Stratocaster <Sunburst>"})
    assert f"  - Fender Stratocaster <Sunburst> (sku {skus[0]}) x " in rendered.text
    assert f"Fender Stratocaster &lt;Sunburst&gt; (sku {skus[0]}) &times; " in rendered.html
    for sku in skus[1:]:
        assert f"  - sku {sku} x " in rendered.text
    assert f"  - sku {skus[0]} x " in renderer.render(event).text
