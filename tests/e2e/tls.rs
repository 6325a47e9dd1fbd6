//! HTTPS with a generated certificate: what kubectl needs before it sends a bearer token.

use k8sless::testing::{StackBuilder, default_args};

use crate::common;

#[tokio::test]
async fn https_with_a_self_signed_certificate_and_a_token() {
    common::init();
    let cert = k8sless::testing::self_signed().expect("certificate");
    let mut b = StackBuilder::new(default_args());
    b.tls = Some(cert.clone());
    let stack = b.start().await.expect("stack");
    assert!(stack.base.starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(cert.cert_pem.as_bytes()).expect("ca");
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .expect("client");
    let r = http
        .get(format!("{}/version", stack.base))
        .bearer_auth("t")
        .send()
        .await
        .expect("https");
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{}/api/v1/namespaces/default/pods", stack.base))
        .bearer_auth("t")
        .json(&common::labelled_pod("tls"))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status().as_u16(), 201);
    // The VM was created through the internal plain-HTTP simulator port.
    assert_eq!(stack.sim.instances().len(), 1);
    // Plain HTTP to the TLS port fails.
    let plain = stack.base.replace("https://", "http://");
    let plain_ok = reqwest::get(format!("{plain}/version"))
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    assert!(!plain_ok, "plain HTTP must not be served on the TLS port");

    if !common::tool("kubectl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("k8sless-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, &cert.cert_pem).expect("write ca");
    std::fs::write(dir.join("config"), "apiVersion: v1\nkind: Config\n").expect("kubeconfig");
    let server = stack.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kubectl")
            .args(["--server", &server, "--certificate-authority"])
            .arg(&ca_path)
            .args(["--token", "secret", "--kubeconfig"])
            .arg(dir.join("config"))
            .args(["--cache-dir"])
            .arg(dir.join("cache"))
            .args(["get", "pods", "-o", "name"])
            .output()
    })
    .await
    .expect("join")
    .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pod/tls");
}
