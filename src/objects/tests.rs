//! [`Objects`] on the memory store: server fields, kube-apiserver's wording, compare-and-swap.

use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus, ResourceQuota};

use super::*;
use crate::store::MemoryStore;

fn namespaces() -> Objects<Namespace> {
    Objects::new(Arc::new(MemoryStore::new()))
}

fn ns(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn create_sets_server_fields_and_get_reads_them_back() {
    let objects = namespaces();
    let mut sent = ns("team-a");
    sent.metadata.uid = Some("client-chosen".into());
    let created = objects.create(None, sent).await.expect("create");
    let m = &created.metadata;
    assert_ne!(m.uid.as_deref(), Some("client-chosen"));
    assert!(m.creation_timestamp.is_some());
    let got = objects.get(None, "team-a").await.expect("get");
    assert_eq!(got.metadata.uid, m.uid);
    assert_eq!(got.metadata.resource_version, m.resource_version);
    let key = key::<Namespace>(None, "team-a");
    assert_eq!(key, "namespaces/team-a.json");
}

#[tokio::test]
async fn errors_are_worded_as_kube_apiserver_words_them() {
    let objects = namespaces();
    let missing = objects.get(None, "x").await.expect_err("missing");
    assert_eq!(missing.to_string(), "namespaces \"x\" not found");
    assert_eq!(missing.code(), 404);
    objects.create(None, ns("x")).await.expect("create");
    let taken = objects.create(None, ns("x")).await.expect_err("taken");
    assert_eq!(taken.to_string(), "namespaces \"x\" already exists");
    assert_eq!(taken.reason(), "AlreadyExists");
    let bad = objects.create(None, ns("Bad_Name")).await.expect_err("bad");
    assert_eq!(bad.code(), 422);
    assert!(bad.to_string().starts_with("Namespace \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"), "{bad}");
}

#[tokio::test]
async fn replace_on_a_stale_resource_version_is_conflict() {
    let objects = namespaces();
    let created = objects.create(None, ns("a")).await.expect("create");
    let mut first = created.clone();
    first.metadata.labels = Some([("x".to_string(), "1".to_string())].into());
    let replaced = objects.replace(None, "a", first).await.expect("replace");
    assert_ne!(
        replaced.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, created.metadata.uid);
    let stale = objects
        .replace(None, "a", created)
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), 409);
    assert_eq!(
        stale.to_string(),
        "Operation cannot be fulfilled on namespaces \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let mut unconditional = ns("a");
    unconditional.status = Some(NamespaceStatus {
        phase: Some("Terminating".into()),
        ..Default::default()
    });
    let kept = objects
        .replace(None, "a", unconditional)
        .await
        .expect("no rv: latest");
    assert_eq!(kept.status, None, "a PUT keeps the stored status");
    let renamed = objects.replace(None, "b", ns("a")).await.expect_err("name");
    assert_eq!(renamed.code(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_retries_lost_swaps_and_can_delete() {
    let objects = namespaces();
    objects.create(None, ns("a")).await.expect("create");
    let store = objects.store.clone();
    let mut raced = false;
    let changed = objects
        .modify(None, "a", |n| {
            if !raced {
                raced = true;
                // Another writer lands between this read and its swap.
                let store = store.clone();
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        let r = store.get("namespaces/a.json").await.expect("get");
                        store
                            .update(&r.key, r.data, r.generation)
                            .await
                            .expect("race");
                    })
                });
            }
            n.metadata.annotations = Some([("k".to_string(), "v".to_string())].into());
            Ok(Change::Write)
        })
        .await
        .expect("modify")
        .expect("kept");
    assert!(changed.metadata.annotations.is_some());
    assert!(raced);
    let gone = objects
        .modify(None, "a", |_| Ok(Change::Delete))
        .await
        .expect("delete");
    assert!(gone.is_none());
    assert_eq!(objects.list(None).await.expect("list").items.len(), 0);
}

#[tokio::test]
async fn namespaced_kinds_list_per_namespace_and_delete_checks_the_version() {
    let quotas: Objects<ResourceQuota> = Objects::new(Arc::new(MemoryStore::new()));
    let q = |name: &str| ResourceQuota {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let a = quotas.create(Some("team-a"), q("q1")).await.expect("a");
    assert_eq!(a.metadata.namespace.as_deref(), Some("team-a"));
    quotas.create(Some("team-b"), q("q1")).await.expect("b");
    let mut wrong = q("q2");
    wrong.metadata.namespace = Some("team-b".into());
    assert_eq!(
        quotas
            .create(Some("team-a"), wrong)
            .await
            .expect_err("ns")
            .code(),
        400
    );
    assert_eq!(
        quotas.list(Some("team-a")).await.expect("list").items.len(),
        1
    );
    let all = quotas.list(None).await.expect("all");
    assert_eq!(all.items.len(), 2);
    assert!(all.resource_version > 0);
    let stale = quotas
        .delete(Some("team-a"), "q1", Some("999"))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), 409);
    let rv = a.metadata.resource_version.as_deref();
    quotas
        .delete(Some("team-a"), "q1", rv)
        .await
        .expect("delete");
    let again = quotas
        .delete(Some("team-a"), "q1", None)
        .await
        .expect_err("gone");
    assert_eq!(again.to_string(), "resourcequotas \"q1\" not found");
}

#[test]
fn group_qualified_resources_split_in_the_status_details() {
    let e = Error::NotFound {
        kind: "roles.rbac.authorization.k8s.io",
        name: "r".into(),
    };
    let status = e.status();
    let details = status.details.expect("details");
    assert_eq!(details.kind.as_deref(), Some("roles"));
    assert_eq!(details.group.as_deref(), Some("rbac.authorization.k8s.io"));
    assert_eq!(
        status.message.as_deref(),
        Some("roles.rbac.authorization.k8s.io \"r\" not found")
    );
}
