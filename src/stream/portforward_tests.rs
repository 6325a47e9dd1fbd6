use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::stream::accept::tests::headers;

/// A WebSocket upgrade offering `protocol` (RFC 6455's sample key).
fn websocket(protocol: &'static str) -> HeaderMap {
    headers(&[
        ("upgrade", "websocket"),
        ("sec-websocket-key", KEY),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", protocol),
    ])
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn each_client_gets_its_wire() {
    // kubectl < 1.31, and the fallback of later ones.
    let spdy = headers(&[
        ("upgrade", "SPDY/3.1"),
        ("x-stream-protocol-version", "portforward.k8s.io"),
    ]);
    let versions = vec![PORTFORWARD.to_string()];
    assert_eq!(
        negotiate(&spdy).unwrap(),
        Wire::Spdy {
            versions: versions.clone()
        }
    );
    // kubectl >= 1.31: SPDY inside WebSocket.
    let tunnel = websocket("SPDY/3.1+portforward.k8s.io");
    assert_eq!(negotiate(&tunnel).unwrap(), Wire::Tunnel { versions });
    // The Python client: channels, which kubelet serves.
    let python = websocket("v5.channel.k8s.io,v4.channel.k8s.io");
    let Wire::WebSocket { key, protocols, .. } = negotiate(&python).unwrap() else {
        panic!("a channel WebSocket");
    };
    assert_eq!(key, KEY);
    assert_eq!(protocols, ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    assert!(matches!(
        negotiate(&HeaderMap::new()),
        Err(AcceptError::NotUpgrade)
    ));
    // SPDY with no version kubelet could pick is refused before kubelet is asked.
    let bare = headers(&[("upgrade", "SPDY/3.1")]);
    assert!(matches!(
        negotiate(&bare),
        Err(AcceptError::NoProtocol { .. })
    ));
}

#[test]
fn nothing_but_tokens_reaches_kubelets_request() {
    let mut h = headers(&[("upgrade", "SPDY/3.1")]);
    h.append(
        "x-stream-protocol-version",
        HeaderValue::from_static("portforward.k8s.io"),
    );
    h.append(
        "x-stream-protocol-version",
        HeaderValue::from_static("x y: z"),
    );
    let wire = negotiate(&h).unwrap();
    let head = kubelet_head(&wire, "vm:10250", "/portForward/default/web");
    assert_eq!(
        head,
        "POST /portForward/default/web HTTP/1.1\r\nHost: vm:10250\r\nUser-Agent: k8sless\r\n\
         Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n"
    );
    assert!(!token("a\r\nb") && !token("") && token("dGhl+/=="));
    let ws = Wire::WebSocket {
        key: "k==".into(),
        version: "13".into(),
        protocols: vec!["v4.channel.k8s.io".into()],
    };
    let head = kubelet_head(&ws, "vm:10250", "/portForward/default/web?port=8080");
    assert!(head.starts_with("GET /portForward/default/web?port=8080 HTTP/1.1\r\n"));
    assert!(head.contains("Sec-WebSocket-Key: k==\r\n"));
    assert!(head.contains("Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"));
}

#[tokio::test]
async fn the_pipe_carries_both_ways_and_ends_with_either_side() {
    let (client, mut client_far) = tokio::io::duplex(1024);
    let (kubelet, mut kubelet_far) = tokio::io::duplex(1024);
    let piping = tokio::spawn(pipe(client, kubelet, Duration::from_secs(60)));
    client_far.write_all(b"up").await.unwrap();
    let mut buf = [0u8; 2];
    kubelet_far.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"up");
    kubelet_far.write_all(b"dn").await.unwrap();
    client_far.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"dn");
    // The client goes: kubelet sees its end, then closes too, and the pipe is done.
    drop(client_far);
    assert_eq!(kubelet_far.read(&mut buf).await.unwrap(), 0);
    drop(kubelet_far);
    tokio::time::timeout(Duration::from_secs(5), piping)
        .await
        .expect("the pipe ends")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_pipe_is_closed() {
    let (client, mut client_far) = tokio::io::duplex(1024);
    let (kubelet, _kubelet_far) = tokio::io::duplex(1024);
    let piping = tokio::spawn(pipe(client, kubelet, Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_secs(61)).await;
    piping.await.unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(client_far.read(&mut buf).await.unwrap_or(0), 0);
}
