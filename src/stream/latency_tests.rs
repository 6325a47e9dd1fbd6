//! What the service adds to an exec round trip (docs/benchmarks.md): one line through `cat`
//! and back, (a) straight to the pod's kubelet (the stand-in, mutual TLS, SPDY), (b) through
//! the service's exec endpoint (SPDY in, SPDY out to the same kubelet). Same client code both
//! ways, so the difference is the proxy's. Run with
//! `cargo test --release --lib stream::latency_tests -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::kubelet::KubeletClient;
use crate::stream::spdy;
use crate::stream::spdy::upgrade::{self, Prefixed};
use crate::stream::{Ends, Input, Output, StreamOptions, session};
use crate::testing::{Stack, StackBuilder, default_args};

const ROUNDS: usize = 500;
const OPTS: StreamOptions = StreamOptions {
    stdin: true,
    stdout: true,
    stderr: false,
    tty: false,
};

async fn round_trips(ends: &mut Ends) -> Vec<Duration> {
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let began = Instant::now();
        ends.input
            .send(Input::Stdin(Bytes::from_static(b"x\n")))
            .await
            .unwrap();
        match ends.output.recv().await {
            Some(Output::Stdout(d)) => assert_eq!(&d[..], b"x\n"),
            other => panic!("{other:?}"),
        }
        times.push(began.elapsed());
    }
    ends.input.send(Input::StdinEnd).await.unwrap();
    times.sort();
    times
}

fn report(what: &str, t: &[Duration]) {
    let at = |q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)];
    eprintln!(
        "{what}: p50 {:?} p90 {:?} p99 {:?} ({} round trips)",
        at(0.5),
        at(0.9),
        at(0.99),
        t.len()
    );
}

/// A stack with guests and the kubelet stand-in, and a pod `name` that runs for five minutes,
/// once it is Running: the stack and the pod's record.
pub(super) async fn running_pod(name: &str) -> (Stack, crate::pods::record::PodRecord) {
    let mut b = StackBuilder::new(default_args()).running_pods();
    b.kubelet = true;
    let stack = b.start().await.unwrap();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": {"k8sless.dev/simulate-duration": "300s"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let url = format!("{}/api/v1/namespaces/default/pods", stack.base);
    reqwest::Client::new()
        .post(&url)
        .json(&pod)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rec = stack.pods.get_record("default", name).await.unwrap();
        if rec.phase() == crate::pods::phase::Phase::Running {
            return (stack, rec);
        }
        assert!(Instant::now() < deadline, "not Running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand for docs/benchmarks.md"]
async fn exec_round_trip_through_the_service_and_straight_to_kubelet() {
    let (stack, rec) = running_pod("bench").await;
    // (a) straight to kubelet.
    let client = stack.pods.kubelet_of(&rec).await.unwrap();
    let io = straight(
        &client,
        "/exec/default/bench/c?command=cat&input=1&output=1",
    )
    .await;
    let (mut ends, process) = session();
    tokio::spawn(spdy::dial(io, OPTS, process));
    let direct = round_trips(&mut ends).await;
    // (b) through the service.
    let path = "/api/v1/namespaces/default/pods/bench/exec?command=cat&stdin=true&stdout=true";
    let io = through(&stack, path).await;
    let (mut ends, process) = session();
    tokio::spawn(spdy::dial(io, OPTS, process));
    let proxied = round_trips(&mut ends).await;
    report("line round trip, straight to kubelet", &direct);
    report("line round trip, through the service", &proxied);
    let added = proxied[ROUNDS / 2].saturating_sub(direct[ROUNDS / 2]);
    eprintln!("added by the proxy to a line round trip (p50): {added:?}");

    // Whole sessions, `exec -- echo hi`: connect, upgrade, streams, the process, its Status.
    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    for _ in 0..SESSIONS {
        let began = Instant::now();
        let path = "/exec/default/bench/c?command=echo&command=hi&output=1";
        session_to_end(straight(&client, path).await).await;
        direct.push(began.elapsed());
        let began = Instant::now();
        let path = "/api/v1/namespaces/default/pods/bench/exec?command=echo&command=hi&stdout=true";
        session_to_end(through(&stack, path).await).await;
        proxied.push(began.elapsed());
    }
    direct.sort();
    proxied.sort();
    report("exec echo hi, straight to kubelet", &direct);
    report("exec echo hi, through the service", &proxied);
}

const SESSIONS: usize = 100;

/// `path` (a kubelet exec URL) upgraded straight on the pod's kubelet, over mutual TLS.
async fn straight(client: &KubeletClient, path: &str) -> Prefixed<TlsStream<TcpStream>> {
    let io = client.connect().await.unwrap();
    upgrade::upgrade(io, &client.host_header(), path)
        .await
        .unwrap()
}

/// `path` (the API's exec URL) upgraded through the service.
async fn through(stack: &Stack, path: &str) -> Prefixed<TcpStream> {
    let tcp = TcpStream::connect(stack.addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    upgrade::upgrade(tcp, &stack.addr.to_string(), path)
        .await
        .unwrap()
}

async fn session_to_end<IO>(io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut ends, process) = session();
    let opts = StreamOptions {
        stdout: true,
        ..Default::default()
    };
    tokio::spawn(spdy::dial(io, opts, process));
    let mut last = None;
    while let Some(out) = ends.output.recv().await {
        last = Some(out);
    }
    assert!(matches!(last, Some(Output::Status(_))), "{last:?}");
}
