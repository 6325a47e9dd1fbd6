//! The sandbox with real processes, through kubelet's exec as the service dials it: two
//! containers share an `emptyDir`; each sees only its own processes, its command as PID 1;
//! `kill -s SIGINT 1` in one ends that container's main process and no other.

use std::time::Duration;

use super::super::container::Launch;
use super::super::exec::stream_tests::{dial, stand_in};
use super::*;
use crate::kubelet::KubeletClient;
use crate::kubelet::pki;
use crate::stream::spdy::upgrade;
use crate::stream::{Output, StreamOptions, status};

/// Runs `command` in `container` of vm1's pod: its stdout and exit code.
async fn exec(client: &KubeletClient, container: &str, command: &[&str]) -> (String, Option<i32>) {
    let query: String = command
        .iter()
        .map(|c| format!("command={}&", urlencode(c)))
        .collect();
    let path = format!("/exec/ns/pod/{container}?{query}output=1&error=1");
    let opts = StreamOptions {
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let mut ends = dial(client, &path, opts).await;
    drop(ends.input);
    let (mut out, mut code) = (Vec::new(), None);
    while let Some(o) = ends.output.recv().await {
        match o {
            Output::Stdout(b) | Output::Stderr(b) => out.extend_from_slice(&b),
            Output::Status(s) => code = status::exit_code(&s),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), code)
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap()[1..].to_string()
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: not within 5 s");
}

/// PID 1's command line in `container`, read again (every 25 ms, for at most 5 s) until it
/// is `want`: on a loaded machine the first exec can land while PID 1 is still the launcher
/// or the setup's shell, before its `exec` of the command (`sandbox::SETUP`).
async fn pid1_cmdline(client: &KubeletClient, container: &str, want: &str) -> String {
    let mut cmdline = String::new();
    for _ in 0..200 {
        cmdline = exec(client, container, &["cat", "/proc/1/cmdline"]).await.0;
        if cmdline == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    cmdline
}

#[tokio::test]
async fn containers_share_an_empty_dir_and_each_has_its_own_pid_1() {
    let isolation = match available() {
        Ok(i) => i,
        Err(why) => return crate::testing::missing(&format!("no sandbox: {why}")),
    };
    let (kubelet, p, dir) = stand_in("vm1").await;
    let node = kubelet.node("vm1").unwrap();
    node.set_manifest(r#"{"spec":{"containers":[{"name":"base"},{"name":"sidecar"}]}}"#);
    let xcom = Mount {
        host: node.volume_dir("xcom"),
        path: "/airflow/xcom".into(),
    };
    let launch = |script: &str| Launch {
        command: vec!["sh".into(), "-c".into(), script.into()],
        mounts: vec![xcom.clone()],
        sandbox: Some(isolation),
        ..Default::default()
    };
    let sidecar = launch(r#"trap "exit 0" INT; while true; do sleep 0.1; done"#);
    node.start("sidecar", &sidecar).await.unwrap();
    let base = launch(r#"echo '{"answer": 42}' > /airflow/xcom/return.json; echo done; exit 3"#);
    node.start("base", &base).await.unwrap();
    until("base ends", || {
        node.container("base").unwrap().exit_code == Some(3)
    })
    .await;
    assert!(node.running("sidecar"));

    let client =
        KubeletClient::new(&p, kubelet.addr(), &pki::vm_dns_name("vm1", "z", "p")).unwrap();
    // What base wrote, read in the sidecar; the volume is one directory of the node.
    let (json, code) = exec(&client, "sidecar", &["cat", "/airflow/xcom/return.json"]).await;
    assert_eq!((json.as_str(), code), ("{\"answer\": 42}\n", Some(0)));
    let on_node = std::fs::read_to_string(node.volume_dir("xcom").join("return.json")).unwrap();
    assert_eq!(on_node, json);
    // PID 1 is the sidecar's command, and only the sidecar's processes are visible.
    let want: String = sidecar.command.iter().map(|a| format!("{a}\0")).collect();
    let cmdline = pid1_cmdline(&client, "sidecar", &want).await;
    assert_eq!(cmdline, want, "PID 1 within 5 s");
    let (names, _) = exec(&client, "sidecar", &["sh", "-c", "cat /proc/[0-9]*/comm"]).await;
    let names: Vec<&str> = names.lines().collect();
    assert!(
        names.iter().all(|n| ["sh", "sleep", "cat"].contains(n)),
        "the sidecar sees {names:?}"
    );
    // The host's directories are read-only.
    let (_, code) = exec(&client, "sidecar", &["touch", "/usr/k8sless-test"]).await;
    assert_ne!(code, Some(0));
    // A finished container is not found, as kubelet answers.
    let io = client.connect().await.unwrap();
    let refused = upgrade::upgrade(
        io,
        &client.host_header(),
        "/exec/ns/pod/base?command=true&output=1",
    )
    .await;
    assert!(
        matches!(&refused, Err(upgrade::UpgradeError::Refused { status: 404, body }) if body == "container not found (\"base\")"),
        "{:?}",
        refused.err()
    );

    // kill -s SIGINT 1 in the sidecar ends its main process (the trap exits 0), no other.
    let (_, code) = exec(&client, "sidecar", &["kill", "-s", "SIGINT", "1"]).await;
    assert_eq!(code, Some(0));
    until("the sidecar ends", || {
        node.container("sidecar").unwrap().exit_code == Some(0)
    })
    .await;
    assert_eq!(node.container("base").unwrap().exit_code, Some(3));
    assert!(node.log_lines("base").iter().any(|(_, l)| l == "done"));
    drop(kubelet);
    let _ = std::fs::remove_dir_all(dir);
}
