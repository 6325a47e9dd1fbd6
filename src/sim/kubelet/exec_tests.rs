//! The stand-in's exec through the service's own kubelet client and SPDY dialer: the pod's
//! certificate runs a real process; another pod's certificate, or none, never reaches it.

use std::sync::Arc;

use bytes::Bytes;

use super::super::{SimKubelet, SimNodeTls};
use crate::kubelet::pki::{self, PodPki};
use crate::kubelet::{KubeletClient, KubeletError};
use crate::stream::spdy::upgrade::{self, UpgradeError};
use crate::stream::{Ends, Input, Output, StreamOptions, session, spdy, status};

pub(crate) fn pki_for(vm: &str) -> PodPki {
    PodPki::generate(pki::serving_names(vm, &["z".into()], "p"), 3600).unwrap()
}

pub(crate) async fn stand_in(vm: &str) -> (SimKubelet, PodPki, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("k8sless-exec-{}", uuid::Uuid::new_v4()));
    let kubelet = SimKubelet::start(dir.clone()).await.unwrap();
    let p = pki_for(vm);
    let tls = SimNodeTls {
        client_ca: p.ca_cert.clone(),
        serving_cert: p.serving_cert.clone(),
        serving_key: p.serving_key.clone(),
    };
    let node = kubelet.register(vm, "ns", "pod", &tls).unwrap();
    node.set_manifest(r#"{"spec":{"containers":[{"name":"c"}]}}"#);
    (kubelet, p, dir)
}

/// `path` (an exec URL) dialled on the kubelet `client` reaches, with the service's own
/// upgrade and SPDY dialer: the caller's ends of the session.
pub(crate) async fn dial(client: &KubeletClient, path: &str, opts: StreamOptions) -> Ends {
    let io = client.connect().await.unwrap();
    let io = upgrade::upgrade(io, &client.host_header(), path)
        .await
        .unwrap();
    let (ends, process) = session();
    tokio::spawn(spdy::dial(io, opts, process));
    ends
}

const EXEC: &str = "/exec/ns/pod/c?command=sh&command=-c&command=read+x%3B+echo+got+%24x%3B+exit+4&input=1&output=1&error=1";

#[tokio::test]
async fn the_pods_certificate_execs_a_real_process() {
    let (kubelet, p, dir) = stand_in("vm1").await;
    let client =
        KubeletClient::new(&p, kubelet.addr(), &pki::vm_dns_name("vm1", "z", "p")).unwrap();
    let opts = StreamOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let mut ends = dial(&client, EXEC, opts).await;
    ends.input
        .send(Input::Stdin(Bytes::from_static(b"it\n")))
        .await
        .unwrap();
    ends.input.send(Input::StdinEnd).await.unwrap();
    let mut seen = Vec::new();
    while let Some(out) = ends.output.recv().await {
        seen.push(out);
    }
    assert_eq!(
        seen.first(),
        Some(&Output::Stdout(Bytes::from_static(b"got it\n"))),
        "{seen:?}"
    );
    let Some(Output::Status(last)) = seen.last() else {
        panic!("no status: {seen:?}")
    };
    assert_eq!(status::exit_code(last), Some(4));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn another_pods_certificate_or_none_is_refused_before_any_exec() {
    let (kubelet, p, dir) = stand_in("vm1").await;
    let name = pki::vm_dns_name("vm1", "z", "p");
    let other = KubeletClient::new(&pki_for("vm1"), kubelet.addr(), &name).unwrap();
    assert!(matches!(
        other.connect().await,
        Err(KubeletError::Handshake { .. })
    ));

    // Trusting vm1's serving certificate, but without a client certificate: TLS 1.3 lets the
    // client finish its side, then the server's alert ends the connection before any answer.
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(p.ca_cert.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(kubelet.addr())
        .await
        .unwrap();
    let server = rustls::pki_types::ServerName::try_from(name).unwrap();
    let anonymous = match tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server, tcp)
        .await
    {
        Err(_) => None,
        Ok(tls) => Some(upgrade::upgrade(tls, "vm1", EXEC).await),
    };
    assert!(
        matches!(
            anonymous,
            None | Some(Err(UpgradeError::Io(_) | UpgradeError::NotHttp))
        ),
        "an anonymous client got an answer"
    );
    let _ = std::fs::remove_dir_all(dir);
}
