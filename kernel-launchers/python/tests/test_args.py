"""Command-line parsing: Atrium's names, JEG's names, and the errors a bad kernelspec gets."""

import pytest

from atrium_launcher.args import (
    LaunchArgsError,
    PortRange,
    parse_args,
    parse_port_range,
    parse_response_address,
    resolve_protocol_version,
)

BASE_ATRIUM = ["--kernel-id", "k-1", "--response-address", "10.1.2.3:8877", "--public-key", "PUBKEY"]


def test_atrium_names():
    a = parse_args(BASE_ATRIUM + ["--port-range", "40000..40100", "--protocol-version", "2",
                                  "--launch-token", "tok", "--spark-init", "lazy", "--ip", "127.0.0.1"])
    assert (a.kernel_id, a.response_host, a.response_port) == ("k-1", "10.1.2.3", 8877)
    assert a.public_key == "PUBKEY"
    assert a.port_range == PortRange(40000, 40100)
    assert (a.protocol_version, a.launch_token, a.spark_init, a.ip) == (2, "tok", "lazy", "127.0.0.1")


def test_jeg_names_as_stock_jeg_kernelspecs_pass_them():
    a = parse_args([
        "--RemoteProcessProxy.kernel-id", "k-2",
        "--RemoteProcessProxy.response-address", "gw.example:9000",
        "--RemoteProcessProxy.public-key", "RSAKEY",
        "--RemoteProcessProxy.port-range", "0..0",
        "--RemoteProcessProxy.spark-context-initialization-mode", "lazy",
    ])
    assert (a.kernel_id, a.response_host, a.response_port, a.public_key) == ("k-2", "gw.example", 9000, "RSAKEY")
    assert a.port_range.unrestricted
    assert a.protocol_version is None and a.launch_token is None
    assert a.spark_init == "lazy"
    assert a.ip == "0.0.0.0"


def test_launch_token_comes_from_the_environment_not_the_command_line():
    a = parse_args(BASE_ATRIUM + ["--protocol-version", "2"], environ={"ATRIUM_LAUNCH_TOKEN": "from-env"})
    assert a.launch_token == "from-env"
    assert parse_args(BASE_ATRIUM, environ={}).launch_token is None
    # the flag, for launchers started by hand, still works
    assert parse_args(BASE_ATRIUM + ["--launch-token", "flag"], environ={"ATRIUM_LAUNCH_TOKEN": "env"}).launch_token == "flag"


def test_atrium_name_wins_over_jeg_name():
    a = parse_args(BASE_ATRIUM + ["--RemoteProcessProxy.kernel-id", "other"])
    assert a.kernel_id == "k-1"


def test_defaults_and_jeg_positional_connection_file():
    a = parse_args(BASE_ATRIUM + ["/tmp/kernel-x.json"])
    assert a.spark_init == "none" and a.port_range.unrestricted and a.connection_file == "/tmp/kernel-x.json"


def test_eager_is_served_lazily_and_non_spark_cluster_disables_it():
    assert parse_args(BASE_ATRIUM + ["--spark-context-initialization-mode", "eager"]).spark_init == "lazy"
    assert parse_args(BASE_ATRIUM + ["--spark-init", "lazy", "--cluster-type", "dask"]).spark_init == "none"


def test_background_spark_init_for_yarn_cluster_drivers():
    assert parse_args(BASE_ATRIUM + ["--spark-init", "background"]).spark_init == "background"


@pytest.mark.parametrize("argv, fragment", [
    (["--response-address", "h:1", "--public-key", "k"], "--kernel-id"),
    (["--kernel-id", "k", "--public-key", "k"], "--response-address"),
    (["--kernel-id", "k", "--response-address", "h:1"], "--public-key"),
    (["--kernel-id", "bad id!", "--response-address", "h:1", "--public-key", "k"], "must be 1-128"),
    (["--kernel-id", "k", "--response-address", "nohostport", "--public-key", "k"], "<host>:<port>"),
    (["--kernel-id", "k", "--response-address", "h:99999", "--public-key", "k"], "outside"),
])
def test_missing_or_bad_required(argv, fragment):
    with pytest.raises(LaunchArgsError, match=fragment):
        parse_args(argv)


def test_unknown_protocol_version_is_refused():
    with pytest.raises(LaunchArgsError):
        parse_args(BASE_ATRIUM + ["--protocol-version", "3"])


@pytest.mark.parametrize("text, expected", [
    (None, PortRange(0, 0)), ("", PortRange(0, 0)), ("0..0", PortRange(0, 0)),
    ("40000..40005", PortRange(40000, 40005)), ("1025..65535", PortRange(1025, 65535)),
])
def test_port_range_ok(text, expected):
    assert parse_port_range(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("40000", "form"), ("a..b", "whole number"), ("5..1", "lower <= upper"),
    ("40000..40004", "at least 6"), ("0..70000", "lower <= upper"),
])
def test_port_range_bad(text, fragment):
    with pytest.raises(LaunchArgsError, match=fragment):
        parse_port_range(text)


def test_response_address_ipv6():
    assert parse_response_address("[::1]:8000") == ("::1", 8000)


@pytest.mark.parametrize("explicit, kind, expected", [
    (None, "x25519", 2), (None, "rsa", 1), (2, "x25519", 2), (1, "rsa", 1),
])
def test_protocol_version_resolution(explicit, kind, expected):
    assert resolve_protocol_version(explicit, kind) == expected


@pytest.mark.parametrize("explicit, kind", [(2, "rsa"), (1, "x25519")])
def test_protocol_version_key_mismatch(explicit, kind):
    with pytest.raises(LaunchArgsError):
        resolve_protocol_version(explicit, kind)


def test_ip_from_env_binds_the_pod_address_kubernetes_sets():
    # The Kubernetes pod template passes `--ip-from-env POD_IP` (env from fieldRef status.podIP).
    a = parse_args(BASE_ATRIUM + ["--ip", "127.0.0.1", "--ip-from-env", "POD_IP"], environ={"POD_IP": "10.244.0.7"})
    assert a.ip == "10.244.0.7"
    assert parse_args(BASE_ATRIUM + ["--ip-from-env", "POD_IP"], environ={"POD_IP": " fd00::5 "}).ip == "fd00::5"
    # without the option the environment is not read
    assert parse_args(BASE_ATRIUM, environ={"POD_IP": "10.244.0.7"}).ip == "0.0.0.0"


@pytest.mark.parametrize("name, environ, fragment", [
    ("POD_IP", {}, "not set"),
    ("POD_IP", {"POD_IP": ""}, "not set"),
    ("POD_IP", {"POD_IP": "pod.example"}, "not an IP address"),
    ("BAD-NAME", {"BAD-NAME": "10.0.0.1"}, "not an environment variable name"),
])
def test_ip_from_env_refuses_a_missing_or_bad_address(name, environ, fragment):
    with pytest.raises(LaunchArgsError, match=fragment):
        parse_args(BASE_ATRIUM + ["--ip-from-env", name], environ=environ)
