//! The Compute Engine client against the simulator over HTTP: idempotent inserts under
//! injected faults, paging, fingerprints, operations, Google's error shapes, and fidelity of
//! every body to Compute Engine's discovery document (gce_fidelity.rs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8sless::sim::faults::FaultRule;
use k8sless::sim::schema::Discovery;
use k8sless::sim::{Sim, SimConfig, SimMode, SimTimings};
use k8sless::testing::RetryPolicy;
use k8sless::testing::TokenSource;
use k8sless::testing::fixture;
use k8sless::testing::names;
use k8sless::testing::{Client, ClientConfig, GceError, Inserted, ListFilter};
use k8sless::testing::{Instance, Metadata, MetadataItem};

use crate::common;

pub(super) const ZONE: &str = "us-central1-a";

pub(super) struct Env {
    pub(super) sim: Sim,
    pub(super) client: Arc<Client>,
    pub(super) base: String,
}

pub(super) async fn start(schema: bool, timings: SimTimings) -> Env {
    common::init();
    let (listener, root) = common::loopback().await;
    let base = format!("{root}/compute/v1");
    let schema = if schema {
        fixture("compute-v1.json")
            .map(|p| Discovery::load(&p).expect("the Compute discovery fixture loads"))
            .map(Arc::new)
    } else {
        None
    };
    let sim = Sim::new(SimConfig {
        mode: SimMode::Explicit,
        timings,
        faults: vec![],
        base_url: base.clone(),
        schema,
    });
    common::serve_on(listener, sim.router());
    let client = Client::new(
        ClientConfig {
            endpoint: base.clone(),
            project: "p".into(),
            zones: vec![ZONE.into(), "us-central1-b".into()],
            mutations_per_second: 0.0,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(200),
                deadline: Duration::from_secs(60),
            },
        },
        TokenSource::Anonymous,
    )
    .expect("client");
    Env {
        sim,
        client: Arc::new(client),
        base,
    }
}

pub(super) fn instance(name: &str, uid: &str) -> Instance {
    let mut labels = BTreeMap::new();
    labels.insert(names::LABEL_MANAGED.to_string(), "true".to_string());
    labels.insert(names::LABEL_UID.to_string(), uid.to_string());
    Instance {
        metadata: Some(Metadata {
            items: vec![MetadataItem {
                key: "k8sless-manifest".into(),
                value: Some("{}".into()),
            }],
            ..Default::default()
        }),
        ..common::cos_vm(name, ZONE, labels)
    }
}

pub(super) async fn create_all(env: &Env, n: usize) -> usize {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = env.client.clone();
            tokio::spawn(async move {
                let uid = format!("uid-{i}");
                let name = names::vm_name("d", "default", &format!("pod-{i}"));
                client
                    .insert_idempotent(
                        ZONE,
                        &instance(&name, &uid),
                        names::request_id(&uid, ZONE, 0),
                        (names::LABEL_UID, &uid),
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(Inserted::Started(_)) | Ok(Inserted::AlreadyOwned) => ok += 1,
            Err(e) => panic!("insert failed after retries: {e}"),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_concurrent_creates_leave_exactly_one_vm_each() {
    let env = start(false, SimTimings::ZERO).await;
    env.sim.set_faults(vec![FaultRule {
        method: Some("insert".into()),
        error_rate: 0.3,
        codes: vec![429, 503],
        ..Default::default()
    }]);
    assert_eq!(create_all(&env, 500).await, 500);
    assert_eq!(env.sim.instances().len(), 500);
    let stats = env.sim.stats();
    assert!(
        stats.injected.get("insert").copied().unwrap_or(0) > 50,
        "faults were injected: {stats:?}"
    );
    // The same creates again: still 500 VMs.
    assert_eq!(create_all(&env, 500).await, 500);
    assert_eq!(env.sim.instances().len(), 500);
    assert_eq!(env.sim.stats().instances_created, 500);
}

#[tokio::test]
async fn paging_returns_each_instance_once() {
    let env = start(false, SimTimings::ZERO).await;
    for i in 0..2000 {
        let name = format!("vm-{i:05}");
        env.sim
            .insert_instance("p", ZONE, instance(&name, "u"), None, false)
            .expect("insert");
    }
    let mut seen = std::collections::HashSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = env
            .client
            .list(
                ZONE,
                &ListFilter::new().label("k8sless", "true"),
                300,
                token.as_deref(),
            )
            .await
            .expect("list");
        pages += 1;
        for i in page.items {
            assert!(seen.insert(i.name.clone()), "{} returned twice", i.name);
        }
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2000);
    assert_eq!(pages, 7);
    for (status, want) in [("RUNNING", 2000), ("TERMINATED", 0)] {
        let all = env
            .client
            .list_all(&ListFilter::new().status(status))
            .await
            .expect("list all");
        assert_eq!(all.len(), want, "{status}");
    }
}

/// `md` with one more item.
fn with_item(md: &Metadata, key: &str, value: &str) -> Metadata {
    let mut md = md.clone();
    md.items.push(MetadataItem {
        key: key.into(),
        value: Some(value.into()),
    });
    md
}

#[tokio::test]
async fn stale_fingerprints_conflict_and_never_clobber() {
    let env = start(false, SimTimings::ZERO).await;
    env.client
        .insert(ZONE, &instance("vm-a", "u"), uuid::Uuid::new_v4())
        .await
        .expect("insert");
    let vm = env.client.get(ZONE, "vm-a").await.expect("get");
    let fp = vm.label_fingerprint.clone().expect("fingerprint");
    let mut first = vm.labels.clone();
    first.insert("winner".into(), "first".into());
    env.client
        .set_labels(ZONE, "vm-a", first, &fp)
        .await
        .expect("first write");
    let mut second = vm.labels.clone();
    second.insert("winner".into(), "second".into());
    let err = env
        .client
        .set_labels(ZONE, "vm-a", second, &fp)
        .await
        .expect_err("stale");
    assert!(matches!(err, GceError::Conflict { .. }), "{err:?}");
    assert_eq!(
        env.client
            .get(ZONE, "vm-a")
            .await
            .expect("get")
            .labels
            .get("winner")
            .map(String::as_str),
        Some("first")
    );

    let md = env
        .client
        .get(ZONE, "vm-a")
        .await
        .expect("get")
        .metadata
        .expect("metadata");
    let a = with_item(&md, "x", "1");
    env.client
        .set_metadata(ZONE, "vm-a", &a)
        .await
        .expect("first metadata");
    let b = with_item(&md, "x", "2");
    assert!(matches!(
        env.client.set_metadata(ZONE, "vm-a", &b).await,
        Err(GceError::Conflict { .. })
    ));
    // The caller's retry: re-read, re-apply.
    let fresh = env.client.get(ZONE, "vm-a").await.expect("get");
    assert_eq!(fresh.metadata_value("x"), Some("1"));
}

#[tokio::test]
async fn operations_report_failures_and_lifecycle_moves_with_the_clock() {
    let env = start(false, SimTimings::REALISTIC).await;
    let op = env
        .client
        .insert(ZONE, &instance("vm-b", "u"), uuid::Uuid::new_v4())
        .await
        .expect("insert");
    assert_ne!(op.status, k8sless::testing::OperationStatus::Done);
    assert_eq!(status_of(&env, "vm-b").await, Some("PROVISIONING"));
    env.sim.advance(Duration::from_secs(3));
    assert_eq!(status_of(&env, "vm-b").await, Some("STAGING"));
    env.sim.advance(Duration::from_secs(2));
    assert_eq!(status_of(&env, "vm-b").await, Some("RUNNING"));
    let done = env
        .client
        .wait_operation(ZONE, &op.name, Duration::from_secs(5))
        .await
        .expect("wait");
    assert_eq!(done.status, k8sless::testing::OperationStatus::Done);
    env.client.stop(ZONE, "vm-b").await.expect("stop");
    assert_eq!(status_of(&env, "vm-b").await, Some("STOPPING"));
    env.sim.advance(Duration::from_secs(2));
    assert_eq!(status_of(&env, "vm-b").await, Some("TERMINATED"));

    stockouts_fail_the_wait(&env).await;
    invalid_requests_are_not_retried(&env).await;
}

/// The status of `name` as the client reads it.
async fn status_of(env: &Env, name: &str) -> Option<&'static str> {
    env.client
        .get(ZONE, name)
        .await
        .expect("get")
        .status
        .map(|s| s.as_str())
}

/// A stockout ends the operation with an error: the wait is a failure.
async fn stockouts_fail_the_wait(env: &Env) {
    env.sim.set_faults(vec![FaultRule {
        zone: Some(ZONE.into()),
        stockout: true,
        ..Default::default()
    }]);
    let op = env
        .client
        .insert(ZONE, &instance("vm-c", "u"), uuid::Uuid::new_v4())
        .await
        .expect("accepted");
    env.sim.advance(Duration::from_secs(3));
    let err = env
        .client
        .wait_operation(ZONE, &op.name, Duration::from_secs(5))
        .await
        .expect_err("stockout");
    assert!(matches!(err, GceError::Stockout { .. }), "{err:?}");
    assert!(matches!(
        env.client.get(ZONE, "vm-c").await,
        Err(GceError::NotFound { .. })
    ));
}

/// Never retried: 400 and 404 come back at once; a nil requestId is rejected.
async fn invalid_requests_are_not_retried(env: &Env) {
    let started = Instant::now();
    let mut bad = instance("Bad_Name", "u");
    bad.name = "Bad_Name".into();
    assert!(matches!(
        env.client
            .insert("us-central1-b", &bad, uuid::Uuid::new_v4())
            .await,
        Err(GceError::Invalid { .. })
    ));
    assert!(matches!(
        env.client.delete(ZONE, "missing").await,
        Err(GceError::NotFound { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    // A nil requestId is rejected, as Compute Engine does.
    assert!(matches!(
        env.client
            .insert("us-central1-b", &instance("vm-d", "u"), uuid::Uuid::nil())
            .await,
        Err(GceError::Invalid { .. })
    ));
}

#[tokio::test]
async fn transient_errors_give_up_at_the_deadline() {
    let env = start(false, SimTimings::ZERO).await;
    env.sim.set_faults(vec![FaultRule {
        method: Some("get".into()),
        error_rate: 1.0,
        codes: vec![503],
        ..Default::default()
    }]);
    let client = Client::new(
        ClientConfig {
            endpoint: env.base.clone(),
            project: "p".into(),
            zones: vec![ZONE.into()],
            mutations_per_second: 0.0,
            timeout: Duration::from_secs(1),
            retry: RetryPolicy {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(50),
                deadline: Duration::from_millis(400),
            },
        },
        TokenSource::Anonymous,
    )
    .expect("client");
    let started = Instant::now();
    let err = client.get(ZONE, "x").await.expect_err("keeps failing");
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        env.sim.stats().calls.get("get").copied().unwrap_or(0) >= 3,
        "retried"
    );
}
