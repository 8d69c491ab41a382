"""The outbound-address guard: which addresses users' connectors and git URLs may reach, and how an
admin opens one with BATON_CONNECTOR_ALLOW. Addresses here are only checked, never connected to."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.config import ConfigError, load_settings
from app.core.outbound import (
    AddressRefused,
    Allowlist,
    HostNotFound,
    check_address,
    embedded_ipv4,
    refusal,
    resolve,
)

REFUSED = [
    # IPv4
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),  # AWS, GCP, Azure IMDS
    ("169.254.170.2", "metadata"),  # ECS task metadata
    ("169.254.1.1", "link-local"),
    ("100.100.100.200", "metadata"),  # Alibaba
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("168.63.129.16", "metadata"),  # Azure WireServer: a public address, but the host's
    ("192.0.0.192", "metadata"),  # Oracle Cloud
    ("0.0.0.0", "this network"),
    ("0.1.2.3", "this network"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "documentation"),
    ("198.51.100.10", "documentation"),
    ("203.0.113.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
    # IPv6
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fd00:ec2::254", "metadata"),  # AWS IMDS over IPv6
    ("fd12:3456::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:10::1", "IETF protocol"),
    ("100::1", "reserved"),  # discard-only
    ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    ("5f00::1", "reserved"),
    # IPv6 forms that embed a refused IPv4 address
    ("::ffff:127.0.0.1", "IPv6 form of a loopback"),
    ("::ffff:169.254.169.254", "IPv6 form of a cloud metadata"),
    ("::ffff:10.0.0.1", "IPv6 form of a private"),
    ("::ffff:0:127.0.0.1", "IPv6 form of a loopback"),  # IPv4-translated
    ("::127.0.0.1", "IPv6 form of a loopback"),  # IPv4-compatible
    ("::a9fe:a9fe", "IPv6 form of a cloud metadata"),
    ("64:ff9b::7f00:1", "IPv6 form of a loopback"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "IPv6 form of a cloud metadata"),
    ("2002:a9fe:a9fe::1", "IPv6 form of a cloud metadata"),  # 6to4
    ("2002:7f00:1::1", "IPv6 form of a loopback"),
    ("2002:c0a8:101::1", "IPv6 form of a private"),
    ("2002:6464:64c8::1", "IPv6 form of a cloud metadata"),
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below 100.64/10
    "100.128.0.1",  # just above
    "172.32.0.1",  # just outside 172.16/12
    "169.255.0.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "2a00:1450:4001:80b::200e",
    "::ffff:93.184.216.34",  # IPv4-mapped public address
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_non_global_addresses_are_refused_with_the_reason(address, why):
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason, (address, reason)
    with pytest.raises(AddressRefused, match="BATON_CONNECTOR_ALLOW"):
        check_address(ipaddress.ip_address(address), "svc.example", Allowlist())
    with pytest.raises(AddressRefused):  # a literal address in a URL is checked the same way
        resolve(address, 443, Allowlist(), resolver=_no_dns)


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address)) is None
    assert resolve(address, 443, Allowlist(), resolver=_no_dns) == [ipaddress.ip_address(address)]


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:0:127.0.0.1", "127.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("2002:a9fe:a9fe::1", "169.254.169.254"),
        ("2002:6464:64c8::1", "100.100.100.200"),
        ("::ffff:93.184.216.34", "93.184.216.34"),
        ("::1", None),
        ("::", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("127.0.0.1", None),
    ],
)
def test_the_ipv4_address_inside_an_ipv6_form_is_found(address, inner):
    found = embedded_ipv4(ipaddress.ip_address(address))
    assert found == (ipaddress.ip_address(inner) if inner else None)


def test_a_refused_name_does_not_tell_the_user_its_internal_address():
    with pytest.raises(AddressRefused) as caught:
        resolve("db.corp.example", 443, Allowlist(), resolver=answers("10.1.2.3"))
    assert "10.1.2.3" not in str(caught.value) and "resolves to a private address" in str(
        caught.value
    )
    with pytest.raises(AddressRefused) as caught:
        resolve("db.corp.example", 443, Allowlist(), resolver=answers("::ffff:10.1.2.3"))
    assert "10.1.2.3" not in str(caught.value)


def _no_dns(host, port):
    raise AssertionError(f"a literal address was looked up: {host}")


def answers(*addresses):
    return lambda host, port: list(addresses)


def test_a_name_is_refused_if_any_of_its_addresses_is():
    assert resolve("svc.example", 443, Allowlist(), resolver=answers("93.184.216.34")) == [
        ipaddress.ip_address("93.184.216.34")
    ]
    with pytest.raises(AddressRefused, match=r"^svc\.example resolves to a loopback address;"):
        resolve("svc.example", 443, Allowlist(), resolver=answers("93.184.216.34", "127.0.0.1"))
    with pytest.raises(AddressRefused):  # an IPv6 zone does not hide a link-local address
        resolve("svc.example", 443, Allowlist(), resolver=answers("fe80::1%eth0"))


def test_a_name_that_does_not_resolve_says_so():
    def nothing(host, port):
        raise HostNotFound(f"cannot resolve {host}")

    with pytest.raises(HostNotFound, match="cannot resolve nowhere.example"):
        resolve("nowhere.example", 443, Allowlist(), resolver=nothing)


def test_the_allowlist_opens_ranges_and_hosts_but_metadata_only_by_exact_address():
    allow = Allowlist.parse("127.0.0.0/8, 10.0.0.0/8, receiver.internal, *.corp.example, fd00::/8")
    local = answers("127.0.0.1")
    assert resolve("anything", 80, allow, resolver=local)  # by range
    assert resolve("::ffff:127.0.0.1", 80, allow)  # IPv4-mapped form of an allowed range
    assert resolve("receiver.internal", 80, allow, resolver=answers("192.168.5.5"))  # by host
    assert resolve("ci.corp.example", 80, allow, resolver=answers("192.168.5.5"))  # by *.suffix
    with pytest.raises(AddressRefused):
        resolve("corp.example.evil", 80, allow, resolver=answers("192.168.5.5"))
    with pytest.raises(AddressRefused):  # 192.168/16 was not allowed
        resolve("other", 80, allow, resolver=answers("192.168.5.5"))
    # Metadata addresses are not opened by a range or a host, only by naming the address itself.
    for address in ("169.254.169.254", "fd00:ec2::254"):
        wide = Allowlist.parse("169.254.0.0/16, fd00::/8, meta.internal")
        with pytest.raises(AddressRefused, match="metadata"):
            resolve(address, 80, wide)
        with pytest.raises(AddressRefused, match="metadata"):
            resolve("meta.internal", 80, wide, resolver=answers(address))
        assert resolve(address, 80, Allowlist.parse(address))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("10.0.0.1/8", "host bits set"),
        ("http://receiver", "neither a hostname nor an address range"),
        ("rec eiver", "neither"),
        ("10.0.0.0/33", "not an address range"),
        ("1.2.3.999", "neither"),
    ],
)
def test_a_bad_allowlist_is_a_one_line_error_naming_the_variable(value, error):
    with pytest.raises(ConfigError, match=f"^BATON_CONNECTOR_ALLOW: .*{error}") as caught:
        load_settings({"BATON_CONNECTOR_ALLOW": value})
    assert "\n" not in str(caught.value)


def test_the_allowlist_is_read_from_the_environment():
    assert not load_settings({}).connector_allow
    allow = load_settings(
        {"BATON_CONNECTOR_ALLOW": " 127.0.0.1 , [::1], Receiver.Internal., "}
    ).connector_allow
    assert allow == Allowlist(
        frozenset({"receiver.internal"}),
        (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")),
    )
