"""Helpers shared by the flows: the pod every client creates, and readable step failures."""
from __future__ import annotations

import contextlib

import pytest


def pod_manifest(name: str, labels: dict | None = None) -> dict:
    """An ordinary pod, with nothing k8sless-specific. It runs 3 s, so a client that waits for Ready
    sees it running (dev runs the command: docs/exec.md), as on any cluster."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"suite": "clients", **(labels or {})}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hello; sleep 3"],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
    }


@contextlib.contextmanager
def step(client: str, flavor: str, what: str, expected: str = ""):
    """Turns any exception inside into a failure that names the client, the step and the expectation."""
    try:
        yield
    except AssertionError as e:
        pytest.fail(f"[{client} vs k8sless {flavor}] step '{what}': expected {expected or 'success'}; {e}", pytrace=False)
    except Exception as e:  # noqa: BLE001 - every client raises its own types
        pytest.fail(f"[{client} vs k8sless {flavor}] step '{what}': expected {expected or 'success'}; "
                    f"got {type(e).__name__}: {e}", pytrace=False)
