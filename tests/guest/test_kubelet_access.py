"""k8sless-kubelet-access, the guest's half of the service's path to kubelet.

Runs the real script (src/guest/files/k8sless-kubelet-access.sh) against the
fake metadata server, on a copy of the real kubelet configuration template,
with ``iptables`` replaced by a recorder: the rendered configuration binds
kubelet's port 10250 with the pod's client CA and serving certificate, and the
host firewall admits 10250 only from the service's ranges.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import GUEST_FILES
from fakes import FakeMetadata

SCRIPT = GUEST_FILES / "k8sless-kubelet-access.sh"
TEMPLATE = GUEST_FILES / "kubelet-config.yaml"
CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----"
CERT = "-----BEGIN CERTIFICATE-----\nU0VSVklORw==\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----"


def run(tmp: Path, attributes: dict[str, str]) -> tuple[subprocess.CompletedProcess, Path, list[str]]:
    conf = tmp / "conf"
    conf.mkdir()
    (conf / "kubelet-config.yaml").write_text(TEMPLATE.read_text() + "cgroupDriver: systemd\n")
    calls = tmp / "iptables.calls"
    recorder = tmp / "iptables"
    recorder.write_text(f"#!/bin/sh\necho \"$(basename \"$0\") $*\" >> '{calls}'\n")
    recorder.chmod(0o755)
    ip6 = tmp / "ip6tables"
    ip6.symlink_to(recorder)
    metadata = FakeMetadata(attributes)
    try:
        env = dict(os.environ, K8SLESS_METADATA_URL=metadata.url, K8SLESS_CONF_DIR=str(conf),
                   K8SLESS_IPTABLES=str(recorder), K8SLESS_IP6TABLES=str(ip6))
        done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                              timeout=120)
    finally:
        metadata.close()
    lines = calls.read_text().splitlines() if calls.exists() else []
    return done, conf, lines


def test_with_the_pods_pki_kubelet_binds_10250_with_client_ca_and_serving_cert(tmp_path):
    done, conf, calls = run(tmp_path, {
        "k8sless-kubelet-client-ca": CA,
        "k8sless-kubelet-serving-cert": CERT,
        "k8sless-kubelet-serving-key": KEY,
        "k8sless-kubelet-source-ranges": "10.8.0.0/26,fd20:1::/64",
    })
    assert done.returncode == 0, done.stderr
    cfg = yaml.safe_load((conf / "kubelet-config.yaml").read_text())
    pki = conf / "pki"
    assert cfg["address"] == "0.0.0.0"
    assert cfg["port"] == 10250
    assert cfg["tlsCertFile"] == str(pki / "kubelet.crt")
    assert cfg["tlsPrivateKeyFile"] == str(pki / "kubelet.key")
    assert cfg["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": False},
        "x509": {"clientCAFile": str(pki / "client-ca.crt")},
    }
    assert cfg["authorization"] == {"mode": "AlwaysAllow"}
    assert cfg["healthzBindAddress"] == "127.0.0.1"
    assert (pki / "client-ca.crt").read_text().strip() == CA
    assert (pki / "kubelet.crt").read_text().strip() == CERT
    assert (pki / "kubelet.key").read_text().strip() == KEY
    assert stat.S_IMODE((pki / "kubelet.key").stat().st_mode) == 0o600
    assert "@KUBELET" not in (conf / "kubelet-config.yaml").read_text()
    # 10250 from the service's ranges only, then dropped; the read-only port from loopback only.
    assert calls == [
        "iptables -w -A INPUT -p tcp -s 10.8.0.0/26 --dport 10250 -j ACCEPT",
        "iptables -w -A INPUT -p tcp --dport 10250 -j DROP",
        "iptables -w -A INPUT -p tcp ! -i lo --dport 10255 -j DROP",
        "ip6tables -w -A INPUT -p tcp -s fd20:1::/64 --dport 10250 -j ACCEPT",
        "ip6tables -w -A INPUT -p tcp --dport 10250 -j DROP",
        "ip6tables -w -A INPUT -p tcp ! -i lo --dport 10255 -j DROP",
    ]


def test_without_the_pki_kubelet_stays_on_loopback_and_no_port_opens(tmp_path):
    done, conf, calls = run(tmp_path, {})
    assert done.returncode == 0, done.stderr
    cfg = yaml.safe_load((conf / "kubelet-config.yaml").read_text())
    assert cfg["address"] == "127.0.0.1"
    assert cfg["tlsCertFile"] == ""
    assert cfg["authentication"]["x509"] == {"clientCAFile": ""}
    assert cfg["authentication"]["anonymous"] == {"enabled": False}
    assert calls == []
    assert not (conf / "pki").exists()


@pytest.mark.parametrize("ranges", ["0.0.0.0/0", "", "10.0.0.1", "::/0", "10.0.0.0/8;reboot"])
def test_a_range_that_admits_everyone_or_is_not_a_cidr_fails_setup(tmp_path, ranges):
    attributes = {
        "k8sless-kubelet-client-ca": CA,
        "k8sless-kubelet-serving-cert": CERT,
        "k8sless-kubelet-serving-key": KEY,
    }
    if ranges:
        attributes["k8sless-kubelet-source-ranges"] = ranges
    done, conf, calls = run(tmp_path, attributes)
    assert done.returncode != 0
    assert not any("ACCEPT" in c for c in calls), calls
    # The placeholders stay: kubelet refuses a configuration that is not filled in.
    assert "@KUBELET_ADDRESS@" in (conf / "kubelet-config.yaml").read_text()
