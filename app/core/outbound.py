"""Outbound connections a user can aim (publishing connectors, git URLs for code review).

A user who picks the address Baton connects to must not reach what sits next to Baton: its
loopback, the private network, a cloud's metadata service. So every such connection goes through
here: the host is resolved once, every address it resolves to is checked, and the connection is
made to the exact address that was checked (DNS rebinding — a name answering a public address to
the check and 127.0.0.1 to the connect — has nothing to rebind). TLS still sends and verifies the
URL's hostname (SNI) and the Host header is the URL's.

Refused: every address that is not global unicast, for IPv4 and IPv6 alike — loopback, private,
link-local, shared CGNAT (100.64/10), unique-local (fc00::/7), multicast, unspecified, reserved,
documentation and benchmarking ranges, Teredo — plus IPv6 forms that embed a refused IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) and known cloud metadata
addresses. An admin opens hosts or ranges with BATON_CONNECTOR_ALLOW (`Allowlist`); a metadata
address opens only when that exact address is listed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpx

log = logging.getLogger("baton.outbound")

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# (host, port) -> the addresses it resolves to, as strings; socket.getaddrinfo by default.
Resolver = Callable[[str, int], list[str]]

_V4 = [
    (IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
]
# Only 2000::/3 is global unicast; these are carved out of it or named for a clearer message.
_V6 = [
    (IPv6Network(net), why)
    for net, why in (
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("2001::/32", "a Teredo address"),
        ("2001::/23", "an IETF protocol address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
    )
]
_GLOBAL_V6 = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")
# Cloud instance metadata services (AWS, ECS, Azure, Alibaba, Oracle): credentials live there.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
    )
)


def _literal(text: str) -> Address | None:
    """The address `text` spells (brackets allowed), or None for a name."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


class AddressRefused(Exception):
    """The destination is one users may not reach. The message is safe to show them."""


class HostNotFound(Exception):
    """The host does not resolve (the message is safe to show)."""


class Allowlist:
    """What an admin opened with BATON_CONNECTOR_ALLOW: hostnames (exact, or `*.suffix` for the
    names under it) and address ranges (CIDR, or a single address). A plain class, not a dataclass:
    Litestar introspects the fields of the Settings it injects, and cannot type a union of networks."""

    __slots__ = ("hosts", "networks")

    def __init__(self, hosts: frozenset[str] = frozenset(), networks: tuple[Network, ...] = ()):
        self.hosts, self.networks = frozenset(hosts), tuple(networks)

    def __repr__(self) -> str:
        return f"Allowlist({', '.join([*sorted(self.hosts), *map(str, self.networks)])})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Allowlist) and (self.hosts, self.networks) == (
            other.hosts,
            other.networks,
        )

    def __hash__(self) -> int:
        return hash((self.hosts, self.networks))

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """Raises ValueError naming the first entry that is neither a hostname nor a range."""
        hosts, networks = set(), []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=True))
                continue
            except ValueError as exc:
                if "/" in entry and _literal(entry.split("/", 1)[0]) is not None:
                    raise ValueError(f"{entry!r} is not an address range ({exc})") from None
            name = entry.lower().rstrip(".")
            labels = name.removeprefix("*.").split(".")
            if (
                not all(
                    label
                    and len(label) < 64
                    and label.replace("-", "").replace("_", "").isalnum()
                    and label.isascii()
                    for label in labels
                )
                or labels[-1].isdigit()
            ):
                raise ValueError(
                    f"{entry!r} is neither a hostname nor an address range like 10.0.0.0/8"
                )
            hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(
            h.startswith("*.") and host.endswith(h[1:]) for h in self.hosts
        )

    def allows_address(self, address: Address, *, exactly: bool = False) -> bool:
        return any(
            address in net and (not exactly or net.num_addresses == 1) for net in self.networks
        )

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)


def embedded_ipv4(address: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, translated, compatible, NAT64, 6to4)."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if (
        any(address in net for net in (_NAT64, _IPV4_TRANSLATED, _IPV4_COMPATIBLE))
        and int(address) > 1
    ):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address) -> str | None:
    """Why users may not reach `address` (None: they may), whatever the allowlist says."""
    address = ipaddress.ip_address(
        str(address).split("%", 1)[0]
    )  # drop an IPv6 zone (fe80::1%eth0)
    if address in METADATA:
        return "a cloud metadata address"
    inner = embedded_ipv4(address)
    if inner is not None:
        why = refusal(inner)
        return f"an IPv6 form of {why}" if why else None
    table = _V4 if isinstance(address, IPv4Address) else _V6
    for net, why in table:
        if address in net:
            return why
    if isinstance(address, IPv6Address) and address not in _GLOBAL_V6:
        return "a reserved address"
    return None


def check_address(address: Address, host: str, allow: Allowlist) -> None:
    """Raise AddressRefused unless `address` (which `host` resolved to) may be reached."""
    why = refusal(address)
    if why is None:
        return
    inner = embedded_ipv4(address)
    candidates = [address] + ([inner] if inner else [])
    if address in METADATA or inner in METADATA:
        if any(allow.allows_address(a, exactly=True) for a in candidates):
            return
    elif allow.allows_host(host) or any(allow.allows_address(a) for a in candidates):
        return
    # The address itself only goes to the log: shown to the user, it would turn Baton into a
    # lookup service for the internal DNS.
    log.info("outbound.refused", extra={"host": host, "address": str(address), "reason": why})
    what = f"{host} is" if _literal(host) is not None else f"{host} resolves to"
    raise AddressRefused(
        f"{what} {why}; connectors and git URLs may not reach it "
        "(an administrator can allow it with BATON_CONNECTOR_ALLOW)"
    )


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HostNotFound(f"cannot resolve {host}") from exc
    return [info[4][0] for info in infos]


def resolve(
    host: str, port: int, allow: Allowlist, resolver: Resolver | None = None
) -> list[Address]:
    """Every address `host` resolves to, each checked; raises AddressRefused if any is refused
    (a name that mixes public and internal answers is not trusted with either)."""
    host = host.strip("[]")
    if (literal := _literal(host)) is not None:
        found = [literal]
    else:
        answers = (resolver or system_resolver)(host, port)
        found = list(dict.fromkeys(ipaddress.ip_address(a.split("%", 1)[0]) for a in answers))
    if not found:
        raise HostNotFound(f"cannot resolve {host}")
    for address in found:
        check_address(address, host, allow)
    return found


async def resolve_url(
    url: str | httpx.URL, allow: Allowlist, resolver: Resolver | None = None
) -> tuple[str, list[Address]]:
    """(host, checked addresses) of an http(s) URL; raises like `resolve`."""
    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise AddressRefused("only http:// and https:// addresses can be reached")
    host = target.raw_host.decode("ascii")
    port = target.port or (443 if target.scheme == "https" else 80)
    return host, await asyncio.to_thread(resolve, host, port, allow, resolver)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes  # at most `max_bytes`: for parsing and the log, never to show a user


async def request(
    method: str,
    url: str,
    *,
    allow: Allowlist,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    timeout: httpx.Timeout,
    max_bytes: int,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Reply:
    """One HTTP request to a checked, pinned address. No redirects, no proxies from the
    environment (a proxy would resolve the name itself). Raises AddressRefused, HostNotFound, or
    httpx.HTTPError for a failed connection."""
    target = httpx.URL(url)
    host, addresses = await resolve_url(target, allow, resolver)
    headers = {**(headers or {}), "Host": target.netloc.decode("ascii")}
    # trust_env=False: no proxy (it would resolve the name itself) and no ~/.netrc credentials for
    # whatever host a user names; the CA bundle still follows SSL_CERT_FILE / SSL_CERT_DIR.
    tls = httpx.create_ssl_context(verify, trust_env=True)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=tls
    ) as client:
        for n, address in enumerate(addresses):
            pinned = client.build_request(
                method,
                target.copy_with(host=str(address)),
                headers=headers,
                content=content,
                extensions={"sni_hostname": host},
            )
            try:
                response = await client.send(pinned, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if n + 1 == len(addresses):
                    raise
                log.info("outbound.connect_failed", extra={"host": host, "address": str(address)})
                continue
            try:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= max_bytes:
                        break
            finally:
                await response.aclose()
            return Reply(response.status_code, body[:max_bytes])
    raise AssertionError("unreachable: resolve returns at least one address")
