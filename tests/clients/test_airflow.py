"""Apache Airflow's KubernetesPodOperator with its defaults (get_logs=True,
on_finish_action="delete_pod"), run as Airflow runs a DAG (`airflow dags test`), against dev and
serve, one after the other, in one Airflow home (one `airflow db migrate`). Airflow pins
its own kubernetes client (36.x), so it has its own venv, .venv-airflow, from
tests/clients/airflow-requirements.txt (installed by tests/clients/run); the only setting is the
`kubernetes_default` connection naming a kubeconfig, as in any deployment.

`test_kubernetes_pod_operator_xcom` runs `do_xcom_push=True` against dev, whose kubelet stand-in
runs the pod's containers as real processes, each in its own mount and PID namespace with the
emptyDir shared (docs/exec.md): Airflow's sidecar, its `cat` and its `kill` by exec. serve's
guest player runs no processes, so there the XCom file cannot exist."""
from __future__ import annotations

import json
import os
import subprocess
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


def airflow_env(tmp_path) -> dict:
    """An Airflow home of its own, with the suite's DAGs."""
    base = {"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "airflow" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return base


def connection(base: dict, service: Service, pod: str) -> dict:
    conn = {"conn_type": "kubernetes",
            "extra": {"kube_config_path": str(service.kubeconfig), "in_cluster": False}}
    return {**base, "K8SLESS_KPO_POD": pod, "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(conn)}


def test_kubernetes_pod_operator_defaults(request, tmp_path):
    exe = airflow()
    base = airflow_env(tmp_path)
    migrate = start([exe, "db", "migrate"], env=base)
    found = services(request)  # the services start while Airflow migrates its database
    finish(f"{CLIENT}: airflow db migrate", migrate, timeout=180)
    for service in found:
        env = connection(base, service, f"airflow-{service.flavor}")
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
        # dev runs the container's command (the stand-in's process); serve's guest player uploads a line.
        assert "[base]" in out and ("hello from airflow" in out or "guest player" in out), out[-1500:]
        assert "log read interrupted" not in out, "the log follow ended while the container ran:\n" + out[-1500:]
    deleted(service, out, "k8sless_kpo")


def deleted(service: Service, out: str, dag: str):
    with step(CLIENT, service.flavor, "delete the pod (on_finish_action=delete_pod)", "no pod left with the DAG's labels"):
        assert "Deleting pod" in out, out[-1500:]
        deadline = time.time() + 30
        while True:
            url = f"{service.url}/api/v1/namespaces/default/pods?labelSelector=dag_id%3D{dag}"
            with urllib.request.urlopen(url, timeout=5) as r:
                left = [p["metadata"]["name"] for p in json.load(r)["items"]]
            if not left:
                break
            assert time.time() < deadline, f"pods left 30 s after the delete: {left}"
            time.sleep(0.3)


def test_kubernetes_pod_operator_xcom(dev, tmp_path):
    exe = airflow()
    try:
        subprocess.run(["unshare", "--mount", "--pid", "--fork", "true"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        unavailable(f"the kubelet stand-in's sandbox needs mount and PID namespaces (unshare: {e})")
    base = airflow_env(tmp_path)
    finish(f"{CLIENT}: airflow db migrate", start([exe, "db", "migrate"], env=base), timeout=180)
    env = connection(base, dev, "airflow-xcom")
    began = time.time()
    out = finish(f"{CLIENT} (airflow dags test k8sless_xcom) vs k8sless dev",
                 start([exe, "dags", "test", "k8sless_xcom"], env=env), service=dev)
    print(f"airflow dags test k8sless_xcom vs dev: {time.time() - began:.1f}s")
    f = dev.flavor
    with step(CLIENT, f, "both tasks ran and succeeded", "'DagRun Finished' with state=success"):
        assert "DagRun Finished" in out and "state=success" in out, out[-3000:]
    with step(CLIENT, f, "read the XCom in the sidecar (exec cat) and stop it (exec kill)",
              "the operator's two commands, no sidecar left running"):
        assert "cat /airflow/xcom/return.json" in out and "Running command... kill" in out, out[-3000:]
        assert "Failed to kill xcom sidecar" not in out, out[-3000:]
    with step(CLIENT, f, "the XCom value", "the JSON the base container wrote, as the next task pulled it"):
        pulled = [line for line in out.splitlines() if line.startswith("K8SLESS_XCOM=")]
        assert pulled == ["K8SLESS_XCOM={'answer': 42, 'words': ['k8s', 'less']}"], out[-3000:]
    with step(CLIENT, f, "stream the base container's log", "its line in the task log"):
        assert "writing" in out, out[-3000:]
    deleted(dev, out, "k8sless_xcom")
