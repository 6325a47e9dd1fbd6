"""One KubernetesPodOperator task with do_xcom_push=True: the base container writes
/airflow/xcom/return.json, the operator's XCom sidecar shares it through an emptyDir, and the
operator reads it by exec (`cat`) and ends the sidecar by exec (`kill -2`), as on a cluster.
The second task prints the value it pulled, so the test reads what Airflow returned."""
from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, task

with DAG("k8sless_xcom", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    pod = KubernetesPodOperator(
        task_id="produce",
        name=os.environ.get("K8SLESS_KPO_POD", "airflow-xcom"),
        namespace="default",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=['echo writing; echo \'{"answer": 42, "words": ["k8s", "less"]}\' > /airflow/xcom/return.json'],
        do_xcom_push=True,
    )

    @task
    def consume(value):
        print(f"K8SLESS_XCOM={value!r}")

    consume(pod.output)
