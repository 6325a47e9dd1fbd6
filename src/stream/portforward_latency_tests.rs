//! port-forward as client-go speaks SPDY to it, (a) straight to the pod's kubelet (the
//! stand-in, mutual TLS) and (b) through the service's `portforward` endpoint (the same SPDY,
//! piped to the same kubelet): one forwarded connection to an echo server, a refused port's
//! error stream. The ignored test measures what the proxy adds to a round trip
//! (docs/benchmarks.md):
//! `cargo test --release --lib stream::portforward_latency_tests -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::stream::portforward::{PORTFORWARD, Wire, kubelet_head};
use crate::stream::spdy::conn::{Connection, Role, SendHalf};
use crate::stream::spdy::upgrade;
use crate::testing::Stack;

/// An echo server on loopback (the "pod's" port: the stand-in has no network namespace).
async fn echo() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n @ 1..) = tcp.read(&mut buf).await {
                    if tcp.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A SPDY port-forward connection, upgraded as client-go does.
async fn spdy<IO>(io: IO, host: &str, path: &str) -> Connection
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let wire = Wire::Spdy {
        versions: vec![PORTFORWARD.into()],
    };
    let (switched, io) = upgrade::send(io, &kubelet_head(&wire, host, path))
        .await
        .unwrap();
    assert_eq!(
        switched.header("x-stream-protocol-version"),
        Some(PORTFORWARD)
    );
    Connection::start(io, Role::Client).unwrap()
}

/// One forwarded connection: client-go's error stream (closed for writing at once), then its
/// data stream.
async fn pair(
    conn: &Connection,
    port: u16,
    id: u32,
) -> (SendHalf, mpsc::Receiver<Bytes>, mpsc::Receiver<Bytes>) {
    let headers = |kind: &str| {
        vec![
            ("streamtype".to_string(), kind.to_string()),
            ("port".to_string(), port.to_string()),
            ("requestid".to_string(), id.to_string()),
        ]
    };
    let (error_tx, error_rx) = conn.open(headers("error")).await.unwrap();
    error_tx.finish().await.unwrap();
    let (data_tx, data_rx) = conn.open(headers("data")).await.unwrap();
    (data_tx, data_rx, error_rx)
}

async fn round_trips(
    tx: &SendHalf,
    rx: &mut mpsc::Receiver<Bytes>,
    rounds: usize,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let began = Instant::now();
        tx.send(Bytes::from_static(b"x\n")).await.unwrap();
        let got = rx.recv().await.expect("echoed");
        assert_eq!(&got[..], b"x\n");
        times.push(began.elapsed());
    }
    times.sort();
    times
}

async fn read_all(mut rx: mpsc::Receiver<Bytes>) -> String {
    let mut all = Vec::new();
    while let Some(b) = rx.recv().await {
        all.extend_from_slice(&b);
    }
    String::from_utf8_lossy(&all).to_string()
}

async fn through_the_service(stack: &Stack) -> Connection {
    let tcp = tokio::net::TcpStream::connect(stack.addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    let path = "/api/v1/namespaces/default/pods/fwd/portforward";
    spdy(tcp, &stack.addr.to_string(), path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_through_the_service_reaches_the_port_and_carries_kubelets_error() {
    let (stack, _) = super::latency_tests::running_pod("fwd").await;
    let port = echo().await;
    let conn = through_the_service(&stack).await;
    let (tx, mut rx, error) = pair(&conn, port, 0).await;
    assert_eq!(round_trips(&tx, &mut rx, 3).await.len(), 3);
    tx.finish().await.unwrap();
    assert_eq!(read_all(error).await, "", "no error on a served port");
    // A second connection on the same session, to a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_tx, _rx, error) = pair(&conn, closed, 1).await;
    let words = read_all(error).await;
    assert!(
        words.starts_with(&format!("error forwarding port {closed} to pod ")),
        "{words}"
    );
    assert!(words.contains("connect: connection refused"), "{words}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand for docs/benchmarks.md"]
async fn port_forward_round_trip_through_the_service_and_straight_to_kubelet() {
    const ROUNDS: usize = 1000;
    let (stack, rec) = super::latency_tests::running_pod("fwd").await;
    let port = echo().await;
    let client = stack.pods.kubelet_of(&rec).await.unwrap();
    let io = client.connect().await.unwrap();
    let direct = spdy(io, &client.host_header(), "/portForward/default/fwd").await;
    let (tx, mut rx, _error) = pair(&direct, port, 0).await;
    let straight = round_trips(&tx, &mut rx, ROUNDS).await;
    let proxied_conn = through_the_service(&stack).await;
    let (tx, mut rx, _error) = pair(&proxied_conn, port, 0).await;
    let proxied = round_trips(&tx, &mut rx, ROUNDS).await;
    let at = |t: &[Duration], q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)];
    for (what, t) in [
        ("straight to kubelet", &straight),
        ("through the service", &proxied),
    ] {
        eprintln!(
            "port-forward round trip, {what}: p50 {:?} p90 {:?} p99 {:?} ({ROUNDS} round trips)",
            at(t, 0.5),
            at(t, 0.9),
            at(t, 0.99)
        );
    }
    let added = at(&proxied, 0.5).saturating_sub(at(&straight, 0.5));
    eprintln!("added by the proxy to a port-forward round trip (p50): {added:?}");
}
