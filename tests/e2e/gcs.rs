//! The Cloud Storage record store against fake-gcs-server (started once by scripts/test and
//! shared: K8SLESS_TEST_GCS_ENDPOINT), including two service instances sharing one bucket.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use k8sless::testing::store_contract;
use k8sless::testing::{RecordStore, StoreError};
use k8sless::testing::{StackBuilder, default_args};

use crate::common;

async fn store() -> Option<Arc<dyn RecordStore>> {
    let endpoint = common::gcs_endpoint()?;
    Some(common::new_gcs_store(&endpoint).await)
}

/// `/readyz` lists objects (which `roles/storage.objectUser` allows), so an empty bucket is
/// ready and a missing one is not.
#[tokio::test]
async fn gcs_ready_on_an_empty_bucket() {
    let Some(s) = store().await else { return };
    s.ready().await.expect("an empty bucket is ready");
    let endpoint = common::gcs_endpoint().expect("peer");
    let absent = format!("k8sless-absent-{}", uuid::Uuid::new_v4().simple());
    let missing = common::gcs_store(&endpoint, &absent, Duration::from_secs(10));
    assert!(
        missing.ready().await.is_err(),
        "a missing bucket is not ready"
    );
}

/// The store contract every record store keeps (`k8sless::testing::store_contract`).
/// fake-gcs-server does not check ifGenerationMatch on deletes (Cloud Storage does; the memory
/// store's tests cover that conflict), so no stale delete is asserted here.
#[tokio::test]
async fn gcs_keeps_the_store_contract() {
    let Some(s) = store().await else { return };
    s.ready().await.expect("bucket answers");
    store_contract::compare_and_swap(s.as_ref()).await;
    store_contract::lists_a_prefix_in_pages(s.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_bucket_one_winner() {
    let Some(s) = store().await else { return };
    let mut a = StackBuilder::new(default_args());
    a.store = Some(s.clone());
    let first = a.start().await.expect("first");
    let mut b = StackBuilder::new(default_args());
    b.store = Some(s.clone());
    let second = b.start().await.expect("second");
    let bases = [first.base.clone(), second.base.clone()];
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = bases[i % 2].clone();
            tokio::spawn(async move {
                common::http()
                    .post(format!("{base}/api/v1/namespaces/default/pods"))
                    .json(&common::labelled_pod("race"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    common::assert_one_created(tasks).await;
    assert_eq!(
        first.sim.instances().len() + second.sim.instances().len(),
        1
    );
    // Both instances read the same record.
    for base in &bases {
        let r = common::http()
            .get(format!("{base}/api/v1/namespaces/default/pods/race"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// A proxy in front of fake-gcs-server that answers 503 to every download of an object whose
/// name contains `unreadable` (a Cloud Storage download that keeps failing), and passes the rest.
async fn failing_downloads_proxy(upstream: String) -> String {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use axum::response::{IntoResponse, Response};
    let http = common::http();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let http = http.clone();
        let upstream = upstream.clone();
        async move {
            let uri = req.uri().to_string();
            let decoded = percent_encoding::percent_decode_str(&uri)
                .decode_utf8_lossy()
                .to_string();
            if req.method() == Method::GET
                && decoded.contains("unreadable")
                && uri.contains("alt=media")
            {
                return (StatusCode::SERVICE_UNAVAILABLE, "injected").into_response();
            }
            let method =
                reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
            let mut out = http.request(method, format!("{upstream}{uri}"));
            let hop = |k: &str| {
                matches!(
                    k,
                    "host" | "content-length" | "transfer-encoding" | "connection"
                )
            };
            for (k, v) in req.headers() {
                if !hop(k.as_str()) {
                    out = out.header(k.as_str(), v.as_bytes());
                }
            }
            let body = axum::body::to_bytes(req.into_body(), usize::MAX)
                .await
                .expect("body");
            let answer = out.body(body).send().await.expect("upstream");
            let mut res = Response::builder().status(answer.status().as_u16());
            for (k, v) in answer.headers() {
                if !hop(k.as_str()) {
                    res = res.header(k.as_str(), v.as_bytes());
                }
            }
            res.body(Body::from(answer.bytes().await.expect("upstream body")))
                .expect("response")
        }
    });
    common::serve(app).await
}

/// One record whose download fails does not fail the listing of the others: the page carries
/// it as unreadable. Only when every download of a page fails does the list fail (the store
/// itself is down).
#[tokio::test]
async fn one_failed_download_does_not_fail_a_list() {
    let Some(endpoint) = common::gcs_endpoint() else {
        return;
    };
    let b = common::gcs_bucket(&endpoint).await;
    let direct = common::gcs_store(&endpoint, &b, Duration::from_secs(10));
    for key in [
        "pods/a/1.json",
        "pods/a/unreadable.json",
        "pods/a/3.json",
        "pods/z/unreadable.json",
    ] {
        direct
            .create(key, Bytes::from_static(b"{}"))
            .await
            .expect("create");
    }
    let proxy = failing_downloads_proxy(endpoint).await;
    let s = common::gcs_store(&proxy, &b, Duration::from_secs(1));
    let page = s.list("pods/a/", None, 100).await.expect("list");
    let keys: Vec<&str> = page.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["pods/a/1.json", "pods/a/3.json"]);
    assert_eq!(page.unreadable.len(), 1);
    assert_eq!(page.unreadable[0].key, "pods/a/unreadable.json");
    assert!(
        page.unreadable[0].error.contains("503"),
        "{}",
        page.unreadable[0].error
    );
    assert!(matches!(
        s.list("pods/z/", None, 100).await,
        Err(StoreError::Unavailable { .. })
    ));
}

/// Table lists and selectors read the records' index (custom metadata in the listing): a cold
/// instance whose downloads of `unreadable*` fail still lists that pod as a Table row, while a
/// JSON list (full bodies) cannot. A record written before the index reads from its body; one
/// written before the packed index (`k8sless-ix1`) reads from its escaped `k8sless-index`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_selectors_list_from_the_index_and_old_records_from_their_body() {
    let Some(endpoint) = common::gcs_endpoint() else {
        return;
    };
    let b = common::gcs_bucket(&endpoint).await;
    let direct: Arc<dyn RecordStore> =
        Arc::new(common::gcs_store(&endpoint, &b, Duration::from_secs(10)));
    let mut writer = StackBuilder::new(default_args());
    writer.store = Some(direct.clone());
    let writer = writer.start().await.expect("stack");
    common::create_pod(
        &writer.base,
        "default",
        common::labelled_pod("unreadable-new"),
    )
    .await;
    // The same record as an older service wrote it: no index.
    let body = direct
        .get("pods/default/unreadable-new.json")
        .await
        .expect("get")
        .data;
    let legacy = String::from_utf8_lossy(&body).replace("unreadable-new", "legacy");
    direct
        .create("pods/default/legacy.json", Bytes::from(legacy))
        .await
        .expect("legacy record");
    // As the service before the packed index wrote it: the index a JSON string under
    // `k8sless-index` (a whole record is a valid index). Its download fails below, so a Table
    // row for it can only come from that index.
    let escaped = String::from_utf8_lossy(&body).replace("unreadable-new", "unreadable-escaped");
    let meta = serde_json::json!({
        "name": "pods/default/unreadable-escaped.json",
        "contentType": "application/json",
        "metadata": {"k8sless-index": escaped},
    });
    let multipart = format!(
        "--BB\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n\
         --BB\r\nContent-Type: application/json\r\n\r\n{escaped}\r\n--BB--\r\n"
    );
    let uploaded = common::http()
        .post(format!(
            "{endpoint}/upload/storage/v1/b/{b}/o?uploadType=multipart"
        ))
        .header("Content-Type", "multipart/related; boundary=BB")
        .body(multipart)
        .send()
        .await
        .expect("upload");
    assert!(uploaded.status().is_success(), "{uploaded:?}");

    let proxy = failing_downloads_proxy(endpoint).await;
    let mut reader = StackBuilder::new(default_args());
    reader.store = Some(Arc::new(common::gcs_store(
        &proxy,
        &b,
        Duration::from_secs(1),
    )));
    let reader = reader.start().await.expect("stack");
    let table = |query: &'static str| {
        let base = reader.base.clone();
        async move {
            let v: serde_json::Value = common::http()
                .get(format!("{base}/api/v1/pods?{query}"))
                .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            let names: Vec<String> = v["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| r["cells"][0].as_str().unwrap_or("").to_string())
                .collect();
            (names, v)
        }
    };
    let (names, v) = table("limit=500").await;
    assert_eq!(
        names,
        ["legacy", "unreadable-escaped", "unreadable-new"],
        "{v}"
    );
    assert_eq!(v["rows"][1]["cells"][2], "Pending", "{v}");
    assert_eq!(v["rows"][2]["cells"][2], "Pending", "{v}");
    let labels = v["rows"][2]["object"]["metadata"]["labels"].clone();
    assert!(labels.is_object(), "{v}");
    let (names, _) = table("fieldSelector=metadata.name%3Dunreadable-new").await;
    assert_eq!(names, ["unreadable-new"]);
    let (names, _) = table("labelSelector=app%3Dnone").await;
    assert!(names.is_empty());
    // JSON lists read bodies: the unreadable one is skipped.
    let v = common::get_json(&common::http(), format!("{}/api/v1/pods", reader.base)).await;
    let items: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(items, ["legacy"]);
}
