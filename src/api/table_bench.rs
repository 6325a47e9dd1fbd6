//! What a later page of a paged Table list costs on the server (issue 18): a 10,000-entry
//! snapshot of indexed records (`pods/crud/bench_fixture.rs`), pages of 500 cut from it and
//! rendered as the route renders them, the client taking `K8SLESS_BENCH_CLIENT_MS` (default
//! 5) to read each page before it asks for the next. Ignored (a measurement, not a check):
//! `cargo test --lib api::table::bench -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::{IncludeObject, pod_table_json};
use crate::pods::crud::bench_fixture;
use crate::pods::crud::read::ListOptions;
use crate::pods::crud::snapshot::Token;

const PODS: usize = 10_000;
const PAGE: usize = 500;

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn a_later_table_page() {
    let (pods, snap) = bench_fixture::pods_with_snapshot(PODS);
    let (mut listing, mut rendering, mut bytes) = (Duration::ZERO, Duration::ZERO, 0);
    let rounds = 5;
    let client = Duration::from_millis(
        std::env::var("K8SLESS_BENCH_CLIENT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    );
    for _ in 0..rounds {
        pods.keep_snapshot(snap.clone());
        let mut token = Some(Token::of(&snap, &snap.entries[PAGE - 1].key).encode());
        while let Some(t) = token {
            let opts = ListOptions {
                limit: PAGE,
                continue_token: Some(t),
                index_only: true,
                ..Default::default()
            };
            let started = Instant::now();
            let page = pods.list(None, &opts).await.expect("page");
            let listed = Instant::now();
            let meta = ListMeta {
                resource_version: Some(page.resource_version.to_string()),
                continue_: page.continue_token.clone(),
                ..Default::default()
            };
            let items: Vec<Pod> = page.items.into_iter().map(|r| r.pod).collect();
            let body = pod_table_json(
                &items,
                IncludeObject::Metadata,
                true,
                jiff::Timestamp::now(),
                meta,
                "meta.k8s.io/v1",
            )
            .expect("table");
            listing += listed - started;
            rendering += listed.elapsed();
            bytes += body.len();
            token = page.continue_token;
            // The client reading the page before it asks for the next.
            std::thread::sleep(client);
        }
    }
    let pages = (rounds * (PODS / PAGE - 1)) as u32;
    println!(
        "later page of {PAGE} (mean of {pages}, client {client:?}): cut and decode {:?}, render {:?}, total {:?}, {} bytes",
        listing / pages,
        rendering / pages,
        (listing + rendering) / pages,
        bytes / pages as usize
    );
}
