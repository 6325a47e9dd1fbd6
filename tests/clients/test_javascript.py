"""The official JavaScript client (@kubernetes/client-node, pinned in package-lock.json and
installed by tests/clients/run with `npm ci`) against `dev --tls` (the client refuses plain
HTTP unless told to skip TLS verification); the flow is js/flow.mjs."""
from __future__ import annotations

from pathlib import Path

from conftest import run, tool, unavailable

HERE = Path(__file__).resolve().parent


def test_javascript_flow(dev_tls):
    node = tool("node", "Debian package nodejs")
    if not (HERE / "node_modules" / "@kubernetes" / "client-node").is_dir():
        unavailable("@kubernetes/client-node is not installed in tests/clients/node_modules (tests/clients/run runs npm ci)")
    run("@kubernetes/client-node flow (js/flow.mjs)", [node, HERE / "js" / "flow.mjs", dev_tls.kubeconfig],
        cwd=HERE, service=dev_tls, timeout=120)
