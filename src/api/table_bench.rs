//! What a later page of a paged Table list costs on the server (issue 18): a 10,000-entry
//! snapshot of indexed records (`pods/crud/bench_fixture.rs`), pages of 500 cut from it and
//! rendered as the route renders them, the client taking `K8SLESS_BENCH_CLIENT_MS` (default
//! 5) to read each page before it asks for the next. Ignored (a measurement, not a check):
//! `cargo test --lib api::table::bench -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::{IncludeObject, pod_table_json};
use crate::pods::crud::bench_fixture;
use crate::pods::crud::read::ListOptions;
use crate::pods::crud::snapshot::{Snapshot, Token};

const PODS: usize = 10_000;
const PAGE: usize = 500;

/// One walk's later pages: time to cut them, time to render them, bytes rendered.
struct Walk {
    listing: Duration,
    rendering: Duration,
    bytes: usize,
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn a_later_table_page() {
    let (pods, snap) = bench_fixture::pods_with_snapshot(PODS);
    let client = Duration::from_millis(
        std::env::var("K8SLESS_BENCH_CLIENT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    );
    // The first walk decodes every index; the next ones (a warm instance's next `kubectl get
    // pods -A` over unchanged records) find them decoded (`pods/crud/decoded.rs`).
    let first = walk(&pods, &snap, client).await;
    report("first walk", &[first], client);
    let mut later = Vec::new();
    for _ in 0..4 {
        later.push(walk(&pods, &snap, client).await);
    }
    report("next walks", &later, client);
}

fn report(what: &str, walks: &[Walk], client: Duration) {
    let pages = (walks.len() * (PODS / PAGE - 1)) as u32;
    let listing: Duration = walks.iter().map(|w| w.listing).sum();
    let rendering: Duration = walks.iter().map(|w| w.rendering).sum();
    let bytes: usize = walks.iter().map(|w| w.bytes).sum();
    println!(
        "{what}: later page of {PAGE} (mean of {pages}, client {client:?}): cut and decode {:?}, render {:?}, total {:?}, {} bytes",
        listing / pages,
        rendering / pages,
        (listing + rendering) / pages,
        bytes / pages as usize
    );
}

/// The 19 later pages of one walk of `snap`, each rendered as the route renders it.
async fn walk(pods: &crate::pods::Pods, snap: &Arc<Snapshot>, client: Duration) -> Walk {
    let mut w = Walk {
        listing: Duration::ZERO,
        rendering: Duration::ZERO,
        bytes: 0,
    };
    pods.keep_snapshot(snap.clone());
    let mut token = Some(Token::of(snap, &snap.entries[PAGE - 1].key).encode());
    while let Some(t) = token {
        let opts = ListOptions {
            limit: PAGE,
            continue_token: Some(t),
            index_only: true,
            ..Default::default()
        };
        let started = Instant::now();
        let page = pods.list_shared(None, &opts).await.expect("page");
        let listed = Instant::now();
        let meta = ListMeta {
            resource_version: Some(page.resource_version.to_string()),
            continue_: page.continue_token.clone(),
            ..Default::default()
        };
        let items: Vec<&Pod> = page.items.iter().map(|r| &r.pod).collect();
        let body = pod_table_json(
            &items,
            IncludeObject::Metadata,
            true,
            jiff::Timestamp::now(),
            meta,
            "meta.k8s.io/v1",
        )
        .expect("table");
        w.listing += listed - started;
        w.rendering += listed.elapsed();
        w.bytes += body.len();
        token = page.continue_token;
        // The client reading the page before it asks for the next.
        std::thread::sleep(client);
    }
    w
}
