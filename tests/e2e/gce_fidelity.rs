//! Fidelity of the simulator to Compute Engine: every body the client sends and every answer
//! against the discovery document, Google's error shapes, the `gce-sim` binary over curl, and
//! the figures of the closing note.

use std::time::Instant;

use k8sless::sim::SimTimings;
use k8sless::sim::schema::Discovery;
use k8sless::testing::fixture;
use k8sless::testing::names;
use k8sless::testing::{Metadata, MetadataItem};

use super::gce::{ZONE, create_all, instance, start};
use crate::common;

#[tokio::test]
async fn bodies_and_responses_match_the_discovery_document() {
    let Some(path) = fixture("compute-v1.json") else {
        return;
    };
    let discovery = Discovery::load(&path).expect("discovery");
    // The simulator checks every body against the document: what the client sends passes,
    // kubelet's certificates and firewall ranges in the metadata included.
    let env = start(true, SimTimings::ZERO).await;
    let kubelet = k8sless::testing::KubeletAccess::Vpc {
        source_ranges: vec!["10.8.0.0/26".into()],
        dial: None,
    };
    let vm = k8sless::testing::render(
        &serde_json::to_string(&common::labelled_pod("fidelity")).expect("json"),
        &k8sless::testing::default_args().vm_settings(),
        &kubelet,
    )
    .expect("render");
    let body = serde_json::to_string(&vm).expect("json");
    assert!(
        body.contains("BEGIN CERTIFICATE"),
        "no kubelet certificates in {body}"
    );
    let body = serde_json::to_value(&vm).expect("json");
    assert_eq!(
        discovery.validate("Instance", &body, Some("compute.instances.insert")),
        Vec::<String>::new()
    );
    let zone = vm.machine_type.split('/').nth(1).expect("zone").to_string();
    let op = env
        .client
        .insert(&zone, &vm, uuid::Uuid::new_v4())
        .await
        .expect("insert accepted by the schema-checking sim");
    let got = env.client.get(&zone, &vm.name).await.expect("get");
    env.client
        .set_labels(
            &zone,
            &vm.name,
            got.labels.clone(),
            got.label_fingerprint.as_deref().unwrap_or(""),
        )
        .await
        .expect("labels");
    // Responses, raw.
    let http = common::http();
    let base = format!("{}/projects/p/zones/{zone}", env.base);
    for (path, kind) in [
        (format!("instances/{}", vm.name), "Instance"),
        ("instances".to_string(), "InstanceList"),
        (format!("operations/{}", op.name), "Operation"),
    ] {
        let answer = common::get_json(&http, format!("{base}/{path}")).await;
        assert_eq!(
            discovery.validate(kind, &answer, None),
            Vec::<String>::new(),
            "{path}"
        );
    }
    // And the document catches what it should: an unknown field, a bad enum.
    let mut wrong = body.clone();
    wrong["machineTyp"] = "x".into();
    wrong["scheduling"]["provisioningModel"] = "CHEAP".into();
    assert_eq!(discovery.validate("Instance", &wrong, None).len(), 2);
    let resp = post_instance(&env, &zone, &wrong).await;
    assert_eq!(resp.status().as_u16(), 400);
}

/// `POST`s `body` to the simulator's `instances.insert` in `zone`, raw.
async fn post_instance(
    env: &super::gce::Env,
    zone: &str,
    body: &impl serde::Serialize,
) -> reqwest::Response {
    common::http()
        .post(format!("{}/projects/p/zones/{zone}/instances", env.base))
        .json(body)
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn errors_have_googles_shape() {
    let env = start(false, SimTimings::ZERO).await;
    let path = format!("/projects/p/zones/{ZONE}/instances/nope");
    let (code, v) = common::get(&env.base, &path).await;
    assert_eq!(code, 404);
    assert_eq!(v["error"]["code"], 404);
    assert_eq!(v["error"]["errors"][0]["reason"], "notFound");
    env.client
        .insert(ZONE, &instance("dup", "u"), uuid::Uuid::new_v4())
        .await
        .expect("insert");
    let r = post_instance(&env, ZONE, &instance("dup", "u")).await;
    assert_eq!(r.status().as_u16(), 409);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"]["errors"][0]["reason"], "alreadyExists");
    let mut big = instance("big", "u");
    big.metadata = Some(Metadata {
        items: vec![MetadataItem {
            key: "x".into(),
            value: Some("a".repeat(256 * 1024 + 1)),
        }],
        ..Default::default()
    });
    let r = post_instance(&env, ZONE, &big).await;
    assert_eq!(r.status().as_u16(), 400);
    let (code, _) = common::get(&env.base, &format!("/projects/p/zones/{ZONE}/disks")).await;
    assert_eq!(code, 405, "unimplemented methods say so");
}

#[test]
fn gce_sim_binary_answers_curl() {
    if !common::tool("curl") {
        return;
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_k8sless"))
        .args(["gce-sim", "--listen", "127.0.0.1:0", "--timings", "zero"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gce-sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("banner");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url in banner")
        .to_string();
    let curl = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new("curl")
            .arg("-s")
            .args(args)
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    let zone_url = format!("{base}/projects/p/zones/{ZONE}");
    let body = serde_json::to_string(&instance("curl-vm", "u")).expect("json");
    let op = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
        &format!("{zone_url}/instances?requestId=8d5e3c1e-2d6f-4a8b-9c0d-1e2f3a4b5c6d"),
    ]);
    assert_eq!(op["kind"], "compute#operation", "{op}");
    let op_name = op["name"].as_str().expect("op name").to_string();
    assert_eq!(
        curl(&[&format!("{zone_url}/instances/curl-vm")])["status"],
        "RUNNING"
    );
    assert_eq!(
        curl(&[&format!(
            "{zone_url}/instances?filter=labels.k8sless%3Dtrue"
        )])["items"][0]["name"],
        "curl-vm"
    );
    assert_eq!(
        curl(&[&format!("{zone_url}/operations/{op_name}")])["status"],
        "DONE"
    );
    assert_eq!(
        curl(&[
            "-X",
            "POST",
            &format!("{zone_url}/operations/{op_name}/wait")
        ])["status"],
        "DONE"
    );
    assert_eq!(
        curl(&["-X", "DELETE", &format!("{zone_url}/instances/curl-vm")])["operationType"],
        "delete"
    );
    assert_eq!(
        curl(&[&format!("{zone_url}/instances/curl-vm")])["error"]["code"],
        404
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Figures for the closing note: simulator inserts/s over HTTP, and the client's own
/// overhead per call. `cargo test --release --test e2e -- --ignored --nocapture gce_figures`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark figures, run by hand"]
async fn gce_figures() {
    let env = start(false, SimTimings::ZERO).await;
    let n = 5000;
    let started = Instant::now();
    assert_eq!(create_all(&env, n).await, n);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulator over HTTP via the client: {n} inserts in {secs:.2}s = {:.0} inserts/s",
        n as f64 / secs
    );
    // Client overhead: the same get through the client vs a bare reqwest call.
    let http = common::http();
    let url = format!(
        "{}/projects/p/zones/{ZONE}/instances/{}",
        env.base,
        names::vm_name("d", "default", "pod-0")
    );
    let rounds = 2000;
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = http.get(&url).send().await.expect("get").bytes().await;
    }
    let bare = t.elapsed().as_secs_f64() / rounds as f64;
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = env
            .client
            .get(ZONE, &names::vm_name("d", "default", "pod-0"))
            .await
            .expect("get");
    }
    let full = t.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "get: bare reqwest {:.1} us, gce::Client {:.1} us, overhead {:.1} us per call",
        bare * 1e6,
        full * 1e6,
        (full - bare) * 1e6
    );
}
