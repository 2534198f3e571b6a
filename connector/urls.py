"""One check for the http(s) URLs that others hand us and that we later send to.

Callback addresses, push endpoints, webhook URLs, dataset sources and remote catalog addresses
are stored and used later by a worker or a pull. An address httpx cannot parse, or whose host
the resolver cannot encode (an empty or over-long label, a malformed ``xn--`` label), must be
refused with a reason when it arrives: found later, it fails a background send that nobody sees.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

MAX_URL_LENGTH = 2000
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")


def url_problem(url: object) -> str | None:
    """Why ``url`` is not an absolute http(s) URL that can be sent to; None when it is one."""
    if not isinstance(url, str) or not url[:8].lower().startswith(("https://", "http://")):
        return "must be an http(s) URL"
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters long"
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")  # IDNA-encoded by httpx
        parsed.host  # noqa: B018 - decoding it back checks the IDNA labels (xn--…)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        return f"is not a valid URL ({str(exc)[:120]})"
    if not host:
        return "must name a host"
    if not _valid_host(host):
        return f"names an invalid host {host[:80]!r}"
    port = _port_text(url)
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"names an invalid port {port[:20]!r}"
    return None


def _port_text(url: str) -> str:
    """The port as written (httpx reads " 80" as no port and a non-ASCII digit as a digit)."""
    authority = url.split("://", 1)[1]  # url_problem checked the scheme
    for end in "/?#":
        authority = authority.split(end, 1)[0]
    host_port = authority.rsplit("@", 1)[-1]
    if host_port.startswith("["):
        return host_port.partition("]")[2].removeprefix(":")
    return host_port.partition(":")[2]


def _valid_host(host: str) -> bool:
    if "%" in host:  # a percent-encoded name, or an IPv6 zone id no peer can be reached by
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return False
    try:
        host.encode("idna")  # what the resolver will do with it
    except UnicodeError:
        return False
    return True
