//! `kubectl port-forward` through the service to the pod's kubelet (the stand-in; docs/exec.md,
//! "port-forward"), for each bundled kubectl: 1.29 speaks SPDY/3.1, 1.32 and 1.33 tunnel SPDY
//! inside WebSocket. The pod's "port" is a listener this test starts on the machine's loopback
//! (the stand-in has no per-pod network namespace). Checked: several fetches through one
//! session, each its own forwarded connection; a port nothing listens on gives kubelet's
//! words on kubectl's stderr; a caller with `view` but not `pods/portforward` is refused 403
//! with kube-apiserver's wording.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k8sless::testing::{StackBuilder, default_args};

use super::kubectl::{Kubectl, kubectl_bin};
use crate::common;

const ROOT: &str = "root@example.com";
const BOB: &str = "bob@example.com";

/// A loopback HTTP/1.0 server answering every request with `marker` and the request's
/// first line, then closing: the "pod's" port. Returns its port.
fn listener(marker: &'static str) -> u16 {
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in server.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(&conn).read_line(&mut line);
                let body = format!("{marker} {}", line.trim());
                let _ = write!(
                    conn,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// GET `path` on `127.0.0.1:port`; the whole answer.
fn fetch(port: u16, path: &str) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to kubectl");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(conn, "GET {path} HTTP/1.0\r\n\r\n").expect("write");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
}

/// A running `kubectl port-forward`.
struct Forwarded {
    child: Child,
    /// The local port.
    local: u16,
    /// Its output lines from here on (`O ` stdout, `E ` stderr).
    lines: mpsc::Receiver<String>,
    /// The method of each upgrade request it sent (POST: SPDY; GET: WebSocket).
    upgrades: Vec<&'static str>,
}

/// Starts `kubectl port-forward pod/POD LOCAL:REMOTE` and waits for its "Forwarding from"
/// line.
fn forward(k: &Kubectl, pod: &str, remote: u16) -> Forwarded {
    let local = closed_port();
    let mapping = format!("{local}:{remote}");
    // -v=7: client-go logs each request and its status (which wire was used).
    let mut child = k.spawn(&["-v=7", "port-forward", &format!("pod/{pod}"), &mapping]);
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let err_tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(format!("E {line}"));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(format!("O {line}"));
        }
    });
    let want = format!("Forwarding from 127.0.0.1:{local} -> {remote}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(&want) => {
                seen.push(line);
                break;
            }
            Ok(line) => seen.push(line),
            Err(_) => panic!("kubectl port-forward never listened: {seen:?}"),
        }
    }
    let upgrades = seen
        .iter()
        .filter(|l| l.contains("/portforward?"))
        .filter_map(|l| ["GET", "POST"].into_iter().find(|m| l.contains(m)))
        .collect();
    Forwarded {
        child,
        local,
        lines: rx,
        upgrades,
    }
}

/// Lines `rx` delivers within `wait`, until one contains `needle`.
fn until(rx: &mpsc::Receiver<String>, needle: &str, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let done = line.contains(needle);
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

/// `k` with a kubeconfig trusting `ca` whose user carries the dev token of `email`
/// (`--server` still wins for the address).
fn as_user(k: Kubectl, email: &str, ca: &str) -> Kubectl {
    let ca = k.write("ca.crt", ca);
    k.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: {}\n    \
             certificate-authority: {ca}\nusers:\n- name: u\n  user:\n    token: dev:{email}\ncontexts:\n- name: c\n  context:\n    \
             cluster: k\n    user: u\ncurrent-context: c\n",
            k.server
        ),
    );
    k
}

/// Runs `args`, which must fail within 30 s; its stderr.
fn bounded(k: &Kubectl, args: &[&str]) -> String {
    let mut child = k.spawn(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "kubectl {args:?} did not fail within 30 s: {stderr}"
    );
    stderr
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn suite(version: &str) {
    let Some(bin) = kubectl_bin(version) else {
        return;
    };
    common::init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut args = default_args();
    args.admins = ROOT.into();
    let mut b = StackBuilder::new(args).running_pods();
    // HTTPS: kubectl sends a bearer token only over TLS.
    let cert = k8sless::testing::self_signed().expect("certificate");
    b.tls = Some(cert.clone());
    b.kubelet = true;
    let stack = rt.block_on(b.start()).expect("stack starts");
    let root = as_user(
        Kubectl::for_stack(bin.clone(), &stack, "portforward", version),
        ROOT,
        &cert.cert_pem,
    );
    root.run_sleeper("web");
    root.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);

    // Three fetches through one session: each is its own pair of streams.
    let port = listener("served-by-the-pod");
    let session = forward(&root, "web", port);
    // kubectl < 1.31 upgrades to SPDY (a POST); later ones to WebSocket (a GET) and, the
    // tunnel accepted, never fall back to SPDY.
    let minor: u32 = version.trim_start_matches("1.").parse().expect("a version");
    let wire = if minor < 31 { "POST" } else { "GET" };
    assert_eq!(session.upgrades, [wire], "kubectl {version}");
    for i in 0..3 {
        let answer = fetch(session.local, &format!("/{i}"));
        assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
        assert!(
            answer.ends_with(&format!("served-by-the-pod GET /{i} HTTP/1.0")),
            "{answer}"
        );
    }
    stop(session.child);

    // Nothing listens: kubelet's message reaches kubectl on the error stream.
    let closed = closed_port();
    let session = forward(&root, "web", closed);
    let answer = fetch(session.local, "/");
    assert!(
        answer.is_empty(),
        "a refused port answers nothing: {answer}"
    );
    let said = until(
        &session.lines,
        "connection refused",
        Duration::from_secs(20),
    );
    let words = format!("error forwarding port {closed} to pod");
    assert!(
        said.iter()
            .any(|l| l.contains(&words) && l.contains("connection refused")),
        "kubectl {version} printed {said:?}"
    );
    stop(session.child);

    // bob may read pods in default but not forward their ports.
    let binding = root.write("binding.yaml", &format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: bob-views\n  \
         namespace: default\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  \
         name: view\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: {BOB}\n"
    ));
    root.ok(&["create", "-f", &binding]);
    eprintln!("kubectl.{version}: bob bound to view");
    let bob = as_user(
        Kubectl::for_stack(bin, &stack, "portforward-bob", version),
        BOB,
        &cert.cert_pem,
    );
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert_pem.as_bytes()).expect("ca"))
        .build()
        .expect("client");
    bob.ok(&["get", "pod", "web"]);
    // Over HTTP: SPDY's POST needs `create`, the WebSocket's GET `get` (and, since 1.31,
    // `create` as well); view has neither.
    for (method, verb) in [
        (reqwest::Method::POST, "create"),
        (reqwest::Method::GET, "get"),
    ] {
        let url = format!(
            "{}/api/v1/namespaces/default/pods/web/portforward",
            stack.base
        );
        let (code, body) = rt.block_on(async {
            let resp = https
                .request(method.clone(), url)
                .bearer_auth(format!("dev:{BOB}"))
                .header("connection", "Upgrade")
                .header("upgrade", "SPDY/3.1")
                .header("x-stream-protocol-version", "portforward.k8s.io")
                .send()
                .await
                .expect("request");
            (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            )
        });
        assert_eq!(code, 403, "{method} as bob: {body}");
        let status: serde_json::Value = serde_json::from_str(&body).expect("a Status");
        let want = format!(
            "pods \"web\" is forbidden: User \"{BOB}\" cannot {verb} resource \"pods/portforward\" in API group \"\" in the namespace \"default\""
        );
        assert_eq!(status["message"], want, "{body}");
    }
    let refused = bounded(
        &bob,
        &[
            "port-forward",
            "pod/web",
            &format!("{}:{port}", closed_port()),
        ],
    );
    assert!(
        refused.contains(&format!(
            "pods \"web\" is forbidden: User \"{BOB}\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"default\""
        )),
        "kubectl {version}: {refused}"
    );
    eprintln!("kubectl.{version}: port-forward through the service and kubelet passed");

    drop(stack);
    rt.shutdown_background();
    let _ = std::fs::remove_dir_all(&root.dir);
    let _ = std::fs::remove_dir_all(&bob.dir);
}

#[test]
fn kubectl_1_29_port_forward_over_spdy() {
    suite("1.29");
}

#[test]
fn kubectl_1_32_port_forward_tunneled_in_websocket() {
    suite("1.32");
}

#[test]
fn kubectl_1_33_port_forward_tunneled_in_websocket() {
    suite("1.33");
}
