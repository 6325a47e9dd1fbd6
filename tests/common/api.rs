//! HTTP to a running stack as the suites' clients do, and the guest's reports they send.

use k8sless::testing::{Instance, Report, ReportInstance, Stack};
use serde_json::{Value, json};

use super::{Issuer, now, zone_of};

/// HTTP to a stack.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(stack: &Stack) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: stack.base.clone(),
        }
    }

    pub async fn create(&self, pod: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1/namespaces/default/pods", self.base))
            .json(&pod)
            .send()
            .await
            .expect("create");
        assert_eq!(r.status().as_u16(), 201, "create");
        r.json().await.expect("json")
    }

    /// Creates `pod` on `stack` (this client's); the created pod and its VM.
    pub async fn create_on_vm(&self, stack: &Stack, pod: Value) -> (Value, Instance) {
        let created = self.create(pod).await;
        let vm = super::vm_of(stack, &created).expect("vm");
        (created, vm)
    }

    /// [`create_on_vm`](Api::create_on_vm), then the VM's first report: `status`.
    pub async fn create_reported(
        &self,
        issuer: &Issuer,
        stack: &Stack,
        pod: Value,
        status: Value,
    ) -> (Value, Instance) {
        let (created, vm) = self.create_on_vm(stack, pod).await;
        self.report_from(issuer, &created, &vm, 1, status).await;
        (created, vm)
    }

    pub async fn pod(&self, name: &str) -> Value {
        let r = self
            .http
            .get(format!(
                "{}/api/v1/namespaces/default/pods/{name}",
                self.base
            ))
            .send()
            .await
            .expect("get");
        r.json().await.expect("json")
    }

    /// POSTs `body` to `path` with an optional bearer token and extra headers.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: String,
    ) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("post");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn push(&self, token: Option<&str>, report: &Report) -> u16 {
        let data = serde_json::to_vec(report).expect("report");
        let body = k8sless::testing::encode_push(
            &data,
            &Default::default(),
            &format!("m-{}", report.sequence),
            jiff::Timestamp::now(),
        );
        self.post("/pubsub/push", token, &[], body.to_string())
            .await
            .0
    }

    /// Pushes, as the guest on `vm` does, a report of `pod` signed with the VM's identity, and
    /// expects it accepted.
    pub async fn report_from(
        &self,
        issuer: &Issuer,
        pod: &Value,
        vm: &Instance,
        seq: u64,
        status: Value,
    ) {
        let r = issuer.report(pod, vm, seq, status);
        assert_eq!(
            self.push(Some(&issuer.caller("/pubsub/push")), &r).await,
            200
        );
    }

    pub async fn gc(&self, token: Option<&str>) -> (u16, Value) {
        self.post("/gc", token, &[], String::new()).await
    }
}

/// A report of `pod` from `vm`, with an identity token.
pub fn report(
    pod: &Value,
    vm: &Instance,
    seq: u64,
    status: Value,
    token: Option<String>,
) -> Report {
    Report {
        api_version: "k8sless.dev/v1".into(),
        kind: "PodReport".into(),
        uid: pod["metadata"]["uid"].as_str().unwrap_or_default().into(),
        namespace: "default".into(),
        name: pod["metadata"]["name"].as_str().unwrap_or_default().into(),
        instance: ReportInstance {
            name: vm.name.clone(),
            id: vm.id.clone().unwrap_or_default(),
            zone: zone_of(vm),
        },
        sequence: seq,
        r#final: matches!(status["phase"].as_str(), Some("Succeeded" | "Failed")),
        node_lost: false,
        observed_at: None,
        identity_token: token,
        node_facts: None,
        status: serde_json::from_value(status).expect("status"),
    }
}

pub fn running(start: &str) -> Value {
    json!({"phase": "Running", "startTime": start,
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "sim://busybox", "ready": true,
            "restartCount": 0, "started": true, "state": {"running": {"startedAt": start}}}]})
}

pub fn succeeded(start: &str) -> Value {
    json!({"phase": "Succeeded", "startTime": start,
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "sim://busybox", "ready": false,
            "restartCount": 0, "started": false,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": start}}}]})
}

pub fn pending() -> Value {
    json!({"phase": "Pending",
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]})
}

pub fn rfc3339_now() -> String {
    jiff::Timestamp::from_second(now())
        .expect("now")
        .to_string()
}
