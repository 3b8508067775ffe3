"""Checkout's server-rendered web pages (CONTRACT.md "Web pages"). For now the guest's booking
cancel page, `/bookings/cancel/{token}`; the pages are HTML, not part of the REST document."""
