"""Apache Airflow's KubernetesPodOperator with its defaults (get_logs=True,
on_finish_action="delete_pod"), run as Airflow runs a DAG (`airflow dags test`), against dev and
serve, one after the other, in one Airflow home (one `airflow db migrate`). Airflow pins
its own kubernetes client (36.x), so it has its own venv, .venv-airflow, from
tests/clients/airflow-requirements.txt (installed by tests/clients/run); the only setting is the
`kubernetes_default` connection naming a kubeconfig, as in any deployment."""
from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, Service, finish, start, unavailable
from flows import step

HERE = Path(__file__).resolve().parent
CLIENT = "Airflow KubernetesPodOperator"


def airflow() -> Path:
    exe = Path(os.environ.get("K8SLESS_AIRFLOW_VENV", ROOT / ".venv-airflow")) / "bin" / "airflow"
    if not exe.exists():
        unavailable(f"{exe} is missing (tests/clients/run installs tests/clients/airflow-requirements.txt)")
    return exe


def services(request) -> list[Service]:
    out = [request.getfixturevalue("dev")]
    try:
        out.append(request.getfixturevalue("serve"))
    except pytest.skip.Exception:
        pass  # the serve fixture printed why
    return out


def test_kubernetes_pod_operator_defaults(request, tmp_path):
    exe = airflow()
    base = {"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "airflow" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    migrate = start([exe, "db", "migrate"], env=base)
    found = services(request)  # the services start while Airflow migrates its database
    finish(f"{CLIENT}: airflow db migrate", migrate, timeout=180)
    for service in found:
        conn = {"conn_type": "kubernetes",
                "extra": {"kube_config_path": str(service.kubeconfig), "in_cluster": False}}
        env = {**base, "K8SLESS_KPO_POD": f"airflow-{service.flavor}", "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(conn)}
        began = time.time()
        out = finish(f"{CLIENT} (airflow dags test k8sless_kpo) vs k8sless {service.flavor}",
                     start([exe, "dags", "test", "k8sless_kpo"], env=env), service=service)
        print(f"airflow dags test vs {service.flavor}: {time.time() - began:.1f}s")
        check(service, out)


def check(service: Service, out: str):
    f = service.flavor
    with step(CLIENT, f, "the task ran and succeeded", "'DagRun Finished' with state=success"):
        assert "DagRun Finished" in out and "state=success" in out, out[-1500:]
    with step(CLIENT, f, "wait for the pod to start", "'Pod has reached Running (or Succeeded) phase'"):
        assert "reached Running phase" in out or "reached Succeeded phase" in out, out[-1500:]
    with step(CLIENT, f, "stream logs (get_logs=True)", "the container's log lines in the task log"):
        assert "[base]" in out and ("guest player" in out or "log line" in out), out[-1500:]
        assert "log read interrupted" not in out, "the log follow ended while the container ran:\n" + out[-1500:]
    with step(CLIENT, f, "delete the pod (on_finish_action=delete_pod)", "no pod left with the DAG's labels"):
        assert "Deleting pod" in out, out[-1500:]
        deadline = time.time() + 30
        while True:
            url = f"{service.url}/api/v1/namespaces/default/pods?labelSelector=dag_id%3Dk8sless_kpo"
            with urllib.request.urlopen(url, timeout=5) as r:
                left = [p["metadata"]["name"] for p in json.load(r)["items"]]
            if not left:
                break
            assert time.time() < deadline, f"pods left 30 s after the delete: {left}"
            time.sleep(0.3)
