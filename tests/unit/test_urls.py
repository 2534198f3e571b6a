"""url_problem: what an http(s) address must be before we store it to send to later."""

from __future__ import annotations

import pytest

from connector.dsp.messages.transfer import header_safe
from connector.urls import MAX_URL_LENGTH, url_problem


@pytest.mark.parametrize("url", [
    "http://localhost:8083/cb", "https://consumer.example/dsp/2025-1",
    "http://127.0.0.1:1/x", "http://[::1]:80/x", "https://bücher.example/x",
    "http://my_service:8080/", "https://a.example./x", "https://" + "a" * 63 + ".example/",
    "https://x.example/?q=%zz", "http://a.example:65535/", "http://a.example:/x",
    "http://user:pw@a.example:8080/", "http://[::1]/x", "HTTP://A.example/x",
])
def test_addresses_that_can_be_sent_to(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://x.example/", "http(s) URL"), ("x.example/cb", "http(s) URL"), ("", "http(s) URL"),
    (None, "http(s) URL"), ("http:///x", "host"),
    ("http://xn--/", "not a valid URL"), ("http://xn--zz.example/", "not a valid URL"),
    ("http://\x01/", "not a valid URL"), ("http://a\x01b/cb", "not a valid URL"),
    ("http://[/", "invalid host"), ("http://%zz/", "invalid host"),
    ("http://a..b/", "invalid host"), ("http://exa mple.com/", "invalid host"),
    ("https://" + "a" * 64 + ".example/", "invalid host"),
    ("https://" + ".".join(["a" * 60] * 5) + "/", "invalid host"),
    ("http://-a.example/", "invalid host"),
    ("https://x.example/" + "p" * MAX_URL_LENGTH, "at most"),
    ("http://a.example:99999/", "port"), ("http://a.example:0/", "port"),
    ("http://a.example:-5/", "port"), ("http://a.example: 80/", "port"),
    ("http://a.example:\u0663/", "port"), ("http://[::1]:70000/", "port"),
    ("http://[fe80::1%25eth0]/", "invalid host"),
])
def test_addresses_that_cannot(url: object, why: str) -> None:
    problem = url_problem(url)
    assert problem is not None and why in problem


@pytest.mark.parametrize(("value", "safe"), [
    ("abc.def-123", True), ("Bearer x y", True), ("é", False), ("a\r\nX: y", False),
    ("Bearer x ", False), (" x", False), ("x" * 8193, False),
])
def test_which_endpoint_property_values_can_be_an_http_header(value: str, safe: bool) -> None:
    assert header_safe(value) is safe
