//! Paged lists are one snapshot: every `continue` page is cut from the listing taken at the
//! first page (Kubernetes' chunked lists), with writes in between; a token whose snapshot is
//! gone answers 410 Expired with a token that continues inconsistently, as kube-apiserver
//! does. On the memory store and, when present, on fake-gcs-server (lists from the index,
//! bodies at their listed generation); then real kubectl with `--chunk-size` while another
//! client creates and deletes pods.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8sless::testing::{Stack, StackBuilder, default_args};
use serde_json::{Value, json};

use super::k8s_schema::assert_valid;
use super::pods::{delete, get, post};
use crate::common::{self, http, labelled_pod as pod};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

async fn list(base: &str, query: &str, table: bool) -> (u16, Value) {
    let mut r = http().get(format!("{base}/api/v1/pods?{query}"));
    if table {
        r = r.header("Accept", TABLE);
    }
    let r = r.send().await.expect("list");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// `namespace/name` of each item (JSON) or row (Table, whose object is metadata).
fn names(page: &Value) -> Vec<String> {
    let items = page["items"].as_array().or(page["rows"].as_array());
    items
        .into_iter()
        .flatten()
        .map(|i| {
            let m = if i["object"].is_object() {
                &i["object"]["metadata"]
            } else {
                &i["metadata"]
            };
            format!(
                "{}/{}",
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

async fn patch_label(base: &str, ns: &str, name: &str, value: &str) {
    let r = http()
        .patch(format!("{base}/api/v1/namespaces/{ns}/pods/{name}"))
        .header("Content-Type", "application/merge-patch+json")
        .json(&json!({"metadata": {"labels": {"app": value}}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
}

/// Six pods in each of `a` and `b`; page 1 of 4, then a delete, a create and a relabel on
/// later pages; the rest of the pages show the first page's listing. `bodies_kept`: the store
/// still serves a replaced body (the memory store's listing holds bodies; Cloud Storage keeps
/// only the latest generation, so `-o json` shows a record changed since as it is now).
async fn snapshot_semantics(stack: &Stack, table: bool, bodies_kept: bool) {
    let base = &stack.base;
    let tag = if table { "t" } else { "j" };
    for ns in ["a", "b"] {
        for i in 0..6 {
            let path = format!("/api/v1/namespaces/{tag}{ns}/pods");
            assert_eq!(post(base, &path, &pod(&format!("p{i}"))).await.0, 201);
        }
    }
    let selector = "fieldSelector=metadata.namespace!%3Dnone,metadata.name!%3Dp5";
    let ours = |page: &Value| -> Vec<String> {
        names(page)
            .into_iter()
            .filter(|n| n.starts_with(tag))
            .collect()
    };
    let first = list(base, &format!("limit=4&{selector}"), table).await.1;
    let rv = first["metadata"]["resourceVersion"].clone();
    assert_eq!(names(&first).len(), 4, "{first}");
    let mut seen = ours(&first);
    let mut token = first["metadata"]["continue"]
        .as_str()
        .expect("more")
        .to_string();

    // Writes after the first page, all on later pages.
    let r = delete(base, &format!("/api/v1/namespaces/{tag}b/pods/p3")).await;
    assert_eq!(r.status().as_u16(), 200);
    let created = post(base, &format!("/api/v1/namespaces/{tag}b/pods"), &pod("p9")).await;
    assert_eq!(created.0, 201);
    patch_label(base, &format!("{tag}b"), "p1", "changed").await;

    let mut labels = Vec::new();
    loop {
        let (code, page) = list(base, &format!("limit=4&{selector}&continue={token}"), table).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(
            page["metadata"]["resourceVersion"], rv,
            "one resourceVersion"
        );
        if !table {
            assert_valid("io.k8s.api.core.v1.PodList", &page);
            for item in page["items"].as_array().expect("items") {
                labels.push(item["metadata"]["labels"]["app"].clone());
            }
        }
        seen.extend(ours(&page));
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    let mut want: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|ns| (0..5).map(move |i| format!("{tag}{ns}/p{i}")))
        .collect();
    if !table && !bodies_kept {
        // Its body is gone with it: a JSON page cannot show what was deleted.
        want.retain(|n| *n != format!("{tag}b/p3"));
    }
    assert_eq!(
        seen, want,
        "the first page's listing, in order, p5 filtered out"
    );
    if !table && bodies_kept {
        assert!(
            labels.iter().all(|l| l == "test"),
            "p1 as listed, not relabelled: {labels:?}"
        );
    }
    // A new list sees the writes.
    let now = ours(
        &list(base, &format!("{selector}&labelSelector=app%3Dtest"), table)
            .await
            .1,
    );
    assert!(now.contains(&format!("{tag}b/p9")) && !now.contains(&format!("{tag}b/p3")));
    assert!(!now.contains(&format!("{tag}b/p1")), "relabelled: {now:?}");
}

fn forged(start: &str, at: u64) -> String {
    let t = json!({"v": 2, "start": start, "snap": {"id": "00000000000000ff", "rv": 1, "at": at}});
    URL_SAFE_NO_PAD.encode(t.to_string())
}

async fn tokens_without_their_snapshot(stack: &Stack) {
    let base = &stack.base;
    for i in 0..3 {
        let path = "/api/v1/namespaces/x/pods";
        assert_eq!(post(base, path, &pod(&format!("q{i}"))).await.0, 201);
    }
    // Past five minutes: 410 Expired, and a token in the Status that continues.
    let old = forged("pods/x/q0.json", 1);
    let (code, status) = list(base, &format!("limit=1&continue={old}"), false).await;
    assert_eq!(code, 410, "{status}");
    assert_eq!(status["reason"], "Expired");
    assert!(
        status["message"].as_str().is_some_and(|m| m.starts_with(
            "The provided continue parameter is too old to display a consistent list result."
        )),
        "{status}"
    );
    let next = status["metadata"]["continue"].as_str().expect("a token");
    let (code, page) = list(base, &format!("limit=5&continue={next}"), false).await;
    assert_eq!(code, 200);
    assert_eq!(names(&page), ["x/q1", "x/q2"]);
    // Young (another instance took it): continues from the store.
    let young = forged("pods/x/q1.json", k8sless_now());
    let (code, page) = list(base, &format!("limit=5&continue={young}"), true).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(names(&page), ["x/q2"]);
    // A token of another namespace's list is refused.
    let other = "/api/v1/namespaces/y/pods?limit=1&continue=";
    assert_eq!(get(base, &format!("{other}{young}")).await.0, 400);
}

fn k8sless_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test]
async fn paged_lists_are_one_snapshot_on_the_memory_store() {
    let stack = common::stack().await;
    snapshot_semantics(&stack, false, true).await;
    snapshot_semantics(&stack, true, true).await;
    tokens_without_their_snapshot(&stack).await;
}

#[tokio::test]
async fn paged_lists_are_one_snapshot_on_cloud_storage() {
    let Some(endpoint) = common::gcs_endpoint() else {
        return;
    };
    let store = common::new_gcs_store(&endpoint).await;
    let mut b = StackBuilder::new(default_args());
    b.store = Some(store);
    let stack = b.start().await.expect("stack");
    snapshot_semantics(&stack, false, false).await;
    snapshot_semantics(&stack, true, false).await;
    tokens_without_their_snapshot(&stack).await;
}

/// kubectl pages with `--chunk-size` while another client creates `z-new-i` and deletes
/// `b-old-i`, one after the other: what kubectl prints must be the pods as they were at one
/// point of that sequence (a list continued from the store would show late creations next
/// to early deletions).
#[test]
fn kubectl_chunked_get_is_one_snapshot_with_writes_in_between() {
    if !common::tool("kubectl") {
        return;
    }
    let rt = common::runtime();
    let stack = rt.block_on(common::stack());
    let base = stack.base.clone();
    let n = 40;
    rt.block_on(async {
        for i in 0..n {
            for name in [format!("a-keep-{i:02}"), format!("b-old-{i:02}")] {
                let path = "/api/v1/namespaces/default/pods";
                assert_eq!(post(&base, path, &pod(&name)).await.0, 201);
            }
        }
    });
    let states: Vec<BTreeSet<String>> = (0..=n)
        .flat_map(|j| [(j, j), (j + 1, j)])
        .filter(|(created, _)| *created <= n)
        .map(|(created, deleted)| {
            let mut s: BTreeSet<String> = (0..n).map(|i| format!("a-keep-{i:02}")).collect();
            s.extend((deleted..n).map(|i| format!("b-old-{i:02}")));
            s.extend((0..created).map(|i| format!("z-new-{i:02}")));
            s
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, done) = (base.clone(), done.clone());
        rt.spawn(async move {
            for i in 0..n {
                let path = "/api/v1/namespaces/default/pods";
                assert_eq!(
                    post(&base, path, &pod(&format!("z-new-{i:02}"))).await.0,
                    201
                );
                let r = delete(&base, &format!("{path}/b-old-{i:02}")).await;
                assert_eq!(r.status().as_u16(), 200);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let dir = std::env::temp_dir().join(format!("k8sless-chunk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("kubeconfig"), "apiVersion: v1\nkind: Config\n").expect("kubeconfig");
    let mut runs = 0;
    while !done.load(Ordering::SeqCst) || runs == 0 {
        let out = std::process::Command::new("kubectl")
            .arg(format!("--server={base}"))
            .arg(format!("--kubeconfig={}", dir.join("kubeconfig").display()))
            .arg(format!("--cache-dir={}", dir.join("cache").display()))
            .args(["get", "pods", "-A", "--chunk-size=3", "--no-headers"])
            .env("HOME", &dir)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        let set: BTreeSet<String> = printed.iter().cloned().collect();
        assert_eq!(set.len(), printed.len(), "a pod printed twice: {printed:?}");
        assert!(
            states.contains(&set),
            "run {runs}: not the pods at any one instant: {printed:?}"
        );
        runs += 1;
    }
    rt.block_on(writer).expect("writer");
    eprintln!("kubectl --chunk-size: {runs} runs, each one snapshot");
    let _ = std::fs::remove_dir_all(&dir);
    drop(stack);
    rt.shutdown_background();
}
