"""The `kubeconfig` output is valid YAML whose exec plugin prints an ExecCredential, for both a
service account (ID token for the service URL) and a user account (gcloud refuses --audiences)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from deploy_helpers import MODULE, blocks, var_default

import yaml  # noqa: E402  (deploy_helpers checks that it is installed)

URL = "https://k8sless-123456789012.us-central1.run.app"


def _kubeconfig() -> dict:
    value = blocks(MODULE, "output")["kubeconfig"]["value"]
    assert value.startswith("<<-EOT\n") and value.rstrip().endswith("EOT")
    body = textwrap.dedent(value[len("<<-EOT\n") : value.rstrip().rfind("\n")])
    body = body.replace("${var.name}", var_default("name")).replace("${local.service_url}", URL)
    assert "${" not in body, "unexpected interpolation in the kubeconfig"
    return yaml.safe_load(body)


def test_kubeconfig_points_at_the_service_over_https():
    config = _kubeconfig()
    assert config["kind"] == "Config"
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == URL and URL.startswith("https://")
    assert config["current-context"] == config["contexts"][0]["name"]
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1"
    assert "gcloud auth print-identity-token" in " ".join(exec_["args"])


FAKE_GCLOUD = """#!/bin/sh
# Stand-in for gcloud: a service account accepts --audiences, a user account does not.
aud=""
for a in "$@"; do
  case "$a" in --audiences=*) aud="${a#--audiences=}" ;; esac
done
if [ -n "$aud" ]; then
  if [ "$FAKE_ACCOUNT" = user ]; then
    echo "ERROR: (gcloud.auth.print-identity-token) Invalid account type for --audiences" >&2
    exit 1
  fi
  echo "sa-token-for-$aud"
  exit 0
fi
if [ "$1 $2 $#" = "auth print-identity-token 2" ]; then
  echo "user-token"
  exit 0
fi
exit 2
"""


@pytest.mark.parametrize("account, token", [("service", f"sa-token-for-{URL}"), ("user", "user-token")])
def test_exec_plugin_prints_an_exec_credential(tmp_path, account, token):
    if not shutil.which("sh"):
        pytest.skip("no sh")
    gcloud = tmp_path / "gcloud"
    gcloud.write_text(FAKE_GCLOUD)
    gcloud.chmod(0o755)
    exec_ = _kubeconfig()["users"][0]["user"]["exec"]
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", FAKE_ACCOUNT=account)
    out = subprocess.run([exec_["command"], *exec_["args"]], env=env, capture_output=True, text=True, check=True)
    credential = json.loads(out.stdout)
    assert credential["kind"] == "ExecCredential"
    assert credential["apiVersion"] == exec_["apiVersion"]
    assert credential["status"]["token"] == token
