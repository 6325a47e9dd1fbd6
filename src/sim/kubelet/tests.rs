//! The stand-in against the service's own kubelet client: the pod's certificate is accepted,
//! another pod's or none is refused in the handshake; logs and stats answer as kubelet does.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt as _;

use super::{SimKubelet, SimNode, SimNodeTls};
use crate::kubelet::pki::{self, PodPki};
use crate::kubelet::{KubeletClient, KubeletError};

fn pki_for(vm: &str) -> PodPki {
    PodPki::generate(pki::serving_names(vm, &["z".into()], "p"), 3600).unwrap()
}

fn tls(p: &PodPki) -> SimNodeTls {
    SimNodeTls {
        client_ca: p.ca_cert.clone(),
        serving_cert: p.serving_cert.clone(),
        serving_key: p.serving_key.clone(),
    }
}

async fn stand_in(vm: &str) -> (SimKubelet, Arc<SimNode>, PodPki, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let kubelet = SimKubelet::start(dir.path().to_path_buf()).await.unwrap();
    let p = pki_for(vm);
    let node = kubelet.register(vm, "ns", "pod", &tls(&p)).unwrap();
    node.set_manifest(r#"{"spec":{"containers":[{"name":"c"}]}}"#);
    (kubelet, node, p, dir)
}

/// A stand-in for `vm` whose container `c` runs `script`, and `c`'s log read with `query`
/// (the stand-in, client and directory kept for more requests).
async fn following(
    vm: &str,
    script: &str,
    query: &str,
) -> (
    SimKubelet,
    KubeletClient,
    hyper::Response<hyper::body::Incoming>,
    tempdir::Dir,
) {
    let (kubelet, node, p, dir) = stand_in(vm).await;
    let client = KubeletClient::new(&p, kubelet.addr(), &pki::vm_dns_name(vm, "z", "p")).unwrap();
    node.run("c", script).unwrap();
    let response = client
        .get(&format!("/containerLogs/ns/pod/c?{query}"))
        .await
        .unwrap();
    (kubelet, client, response, dir)
}

/// A scratch directory removed on drop.
mod tempdir {
    pub(super) struct Dir(std::path::PathBuf);
    impl Dir {
        pub(super) fn new() -> Dir {
            let p = crate::sim::kubelet::scratch_dir();
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub(super) fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test]
async fn the_pods_certificate_is_accepted_another_pods_or_none_refused() {
    let (kubelet, _node, p, _dir) = stand_in("vm1").await;
    let name = pki::vm_dns_name("vm1", "z", "p");
    let ok = KubeletClient::new(&p, kubelet.addr(), &name).unwrap();
    let body = ok.get_bytes("/stats/summary", 1 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("\"nodeName\":\"vm1\""));

    // Another pod's PKI: its client certificate is not from vm1's CA, and vm1's serving
    // certificate is not from its CA either; both sides refuse.
    let other = pki_for("vm1");
    let refused = KubeletClient::new(&other, kubelet.addr(), &name).unwrap();
    let err = refused.get("/stats/summary").await.unwrap_err();
    assert!(matches!(err, KubeletError::Handshake { .. }), "{err:?}");

    // The right CA for the server, but another pod's client certificate.
    let mut mixed = other.clone();
    mixed.ca_cert = p.ca_cert.clone();
    let refused = KubeletClient::new(&mixed, kubelet.addr(), &name).unwrap();
    assert!(refused.get("/stats/summary").await.is_err());

    // No client certificate at all.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates({
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(p.ca_cert.as_bytes()).unwrap())
            .unwrap();
        roots
    })
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(kubelet.addr())
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server = rustls::pki_types::ServerName::try_from(name.clone()).unwrap();
    let outcome = async {
        let mut tls = connector.connect(server, tcp).await?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(b"GET /stats/summary HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    }
    .await;
    // TLS 1.3 reports the missing certificate after the client's handshake completes: the
    // first read fails (or the connection closes with nothing), never an HTTP answer.
    match outcome {
        Err(_) => {}
        Ok(buf) => assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf)),
    }

    // A server name no VM has.
    let unknown = KubeletClient::new(&p, kubelet.addr(), "vm9.z.c.p.internal").unwrap();
    assert!(unknown.get("/stats/summary").await.is_err());
}

#[tokio::test]
async fn container_logs_follow_a_real_process() {
    let (_kubelet, client, mut response, _dir) = following(
        "vm2",
        "echo one; echo two; sleep 0.5; echo three",
        "follow=true",
    )
    .await;
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, response.body_mut().frame()).await
    {
        if let Ok(data) = frame.unwrap().into_data() {
            got.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert_eq!(got, "one\ntwo\nthree\n");

    let tail = client
        .get_bytes(
            "/containerLogs/ns/pod/c?tailLines=1&timestamps=true",
            1 << 20,
        )
        .await
        .unwrap();
    let tail = String::from_utf8_lossy(&tail);
    assert!(tail.ends_with(" three\n") && tail.contains('T'), "{tail}");
    let limited = client
        .get_bytes("/containerLogs/ns/pod/c?limitBytes=5", 1 << 20)
        .await
        .unwrap();
    assert_eq!(&limited[..], b"one\nt");

    let err = client.get("/containerLogs/ns/pod/nope").await.unwrap_err();
    assert!(
        matches!(&err, KubeletError::Status { status: 404, body, .. } if body.contains(r#"container "nope" not found in pod "pod""#)),
        "{err:?}"
    );
    let err = client
        .get("/containerLogs/ns/pod/c?previous=true")
        .await
        .unwrap_err();
    assert!(
        matches!(err, KubeletError::Status { status: 400, .. }),
        "{err:?}"
    );
}

/// The stand-in's own delay per followed line (its file poll), straight to the client: the
/// base the e2e suite's figure through the service is compared with (docs/benchmarks.md).
#[tokio::test]
async fn followed_lines_arrive_directly_within_the_poll() {
    let (_kubelet, _client, mut response, _dir) = following(
        "vm3",
        "sleep 0.3; i=0; while [ $i -lt 10 ]; do echo l$i; i=$((i+1)); sleep 0.1; done",
        "follow=true&timestamps=true",
    )
    .await;
    let mut late = Vec::new();
    let mut pending = String::new();
    while let Some(Ok(frame)) = response.body_mut().frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let arrived = jiff::Timestamp::now();
        pending.push_str(&String::from_utf8_lossy(&data));
        while let Some(nl) = pending.find('\n') {
            let line: String = pending.drain(..=nl).collect();
            let ts: jiff::Timestamp = line.split(' ').next().unwrap().parse().unwrap();
            late.push(arrived.duration_since(ts).as_secs_f64() * 1000.0);
        }
    }
    assert_eq!(late.len(), 10);
    late.sort_by(f64::total_cmp);
    eprintln!(
        "stand-in alone, per followed line: median {:.1} ms, max {:.1} ms",
        late[5], late[9]
    );
    assert!(late[9] < 500.0, "{late:?}");
}

/// A kubelet that accepts but never answers the handshake costs a bounded wait, not a hang.
#[tokio::test(start_paused = true)]
async fn a_silent_kubelet_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let p = pki_for("vm4");
    let client = KubeletClient::new(&p, addr, &pki::vm_dns_name("vm4", "z", "p")).unwrap();
    let err = client.get("/stats/summary").await.unwrap_err();
    assert!(matches!(err, KubeletError::Timeout { .. }), "{err:?}");
}
