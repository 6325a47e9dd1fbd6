"""One KubernetesPodOperator task with the operator's defaults (get_logs=True,
on_finish_action="delete_pod"), pointed at k8sless by the `kubernetes_default` connection
(AIRFLOW_CONN_KUBERNETES_DEFAULT, a kubeconfig path) as any Airflow deployment would be."""
from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG

with DAG("k8sless_kpo", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    KubernetesPodOperator(
        task_id="hello",
        name=os.environ.get("K8SLESS_KPO_POD", "airflow-hello"),
        namespace="default",
        image="busybox:1.36",
        cmds=["sh", "-c", "echo hello from airflow"],
    )
