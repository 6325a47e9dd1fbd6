//! kubectl's exec, attach and cp against a live pod (the kubelet stand-in runs the processes in
//! the pod's scratch directory; docs/exec.md): output, exit codes, piped stdin that ends, an
//! interactive shell in a pseudo-terminal (with its size), `cp` both ways, `attach -i`
//! (port-forward has its own suite, kubectl_portforward.rs).

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::kubectl::Kubectl;

/// Drives `kubectl exec -it POD -- sh` in a pseudo-terminal of 30 rows and 100 columns: asks
/// for a sum, the terminal and its size, exits 5; prints what the terminal showed, then the
/// exit code on the last line.
const PTY_DRIVER: &str = r#"
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
out = b""
def read(until, seconds):
    global out
    end = time.time() + seconds
    while until not in out and time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
read(b"$ ", 20)
os.write(fd, b"echo $((6*7)); stty size\r")
read(b"30 100", 10)
os.write(fd, b"exit 5\r")
read(b"\x00never", 5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace") + "\n" + str(os.waitstatus_to_exitcode(status)) + "\n")
"#;

/// Every flow against `pod`, which must be running for a minute more.
pub(crate) fn flows(k: &Kubectl, pod: &str) {
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{pod}"),
        "--timeout=60s",
    ]);
    let started = Instant::now();
    assert_eq!(k.ok(&["exec", pod, "--", "echo", "hi"]), "hi\n");

    let exit = k.run(&["exec", pod, "--", "sh", "-c", "exit 3"]);
    assert_eq!(
        exit.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&exit.stderr)
    );

    let piped = with_stdin(k, &["exec", "-i", pod, "--", "cat"], b"data\n");
    assert_eq!(piped, "data\n", "piped stdin that ends ends cat");

    interactive(k, pod);
    copy_both_ways(k, pod);

    let attached = with_stdin(k, &["attach", "-i", pod], b"echo attached; exit 0\n");
    assert!(attached.contains("attached"), "{attached}");

    eprintln!(
        "{}: exec, attach and cp in {:?}",
        k.bin.display(),
        started.elapsed()
    );
}

/// Runs with `input` on stdin, then its end; must finish within 30 s; returns stdout.
fn with_stdin(k: &Kubectl, args: &[&str], input: &[u8]) -> String {
    let mut child = k
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl spawns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?} did not return after its stdin ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn interactive(k: &Kubectl, pod: &str) {
    let Some(python) = ["python3", "python"]
        .into_iter()
        .find(|p| crate::common::tool(p))
    else {
        return;
    };
    let args = k.command(&["exec", "-it", pod, "--", "sh"]);
    let mut driver = std::process::Command::new(python);
    driver
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(args.get_program())
        .args(args.get_args());
    driver.envs(args.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let out = driver.output().expect("python runs the pty driver");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("42"), "the shell ran the sum: {text}");
    assert!(
        text.contains("30 100"),
        "the terminal has the client's size: {text}"
    );
    assert!(
        text.contains("[simulated]"),
        "the prompt says the shell is the stand-in's: {text}"
    );
    assert_eq!(
        text.trim_end().lines().last(),
        Some("5"),
        "exit code of `exit 5`: {text}"
    );
}

fn copy_both_ways(k: &Kubectl, pod: &str) {
    // 300 kB: more than one SPDY frame and one WebSocket message each way.
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let local = k.write("cp-out.bin", "");
    std::fs::write(&local, &data).expect("write the local file");
    k.ok(&["cp", &local, &format!("{pod}:copied.bin")]);
    let back = k.dir.join("cp-back.bin");
    k.ok(&[
        "cp",
        &format!("{pod}:copied.bin"),
        &back.display().to_string(),
    ]);
    assert!(
        std::fs::read(&back).expect("copied back") == data,
        "kubectl cp round-trips the file"
    );
}

/// The refusals before any upgrade, over plain HTTP (a running two-container pod): each a
/// `Status` worded as kube-apiserver or kubelet words it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_refusals_are_statuses_with_kubernetes_words() {
    crate::common::init();
    let mut b = k8sless::testing::StackBuilder::new(k8sless::testing::default_args());
    b.mode = k8sless::sim::SimMode::Auto;
    b.timings = k8sless::sim::SimTimings::ZERO;
    b.guests = true;
    b.kubelet = true;
    let stack = b.start().await.expect("stack");
    let http = crate::common::http();
    let pods = format!("{}/api/v1/namespaces/default/pods", stack.base);
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "two", "annotations": {"k8sless.dev/simulate-duration": "60s"}},
        "spec": {"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}});
    assert_eq!(
        http.post(&pods).json(&pod).send().await.unwrap().status(),
        201
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p: serde_json::Value = http
            .get(format!("{pods}/two"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["status"]["phase"] == "Running" {
            break;
        }
        assert!(Instant::now() < deadline, "not Running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ask = |query: &str, headers: &[(&str, &str)]| {
        let mut r = http.get(format!("{pods}/two/exec?{query}"));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        async move {
            let resp = r.send().await.unwrap();
            let code = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["kind"], "Status", "{body}");
            (
                code,
                body["message"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let spdy = [
        ("connection", "Upgrade"),
        ("upgrade", "SPDY/3.1"),
        ("x-stream-protocol-version", "v4.channel.k8s.io"),
    ];
    let (code, msg) = ask("command=ls&stdout=true", &spdy).await;
    assert_eq!(
        (code, msg.as_str()),
        (
            400,
            "a container name must be specified for pod two, choose one of: [a b]"
        )
    );
    let (code, msg) = ask("command=ls&stdout=true&container=c", &spdy).await;
    assert_eq!(
        (code, msg.as_str()),
        (400, "container c is not valid for pod two")
    );
    let (code, msg) = ask("command=ls&container=a", &spdy).await;
    assert_eq!(
        (code, msg.as_str()),
        (400, "you must specify at least 1 of stdin, stdout, stderr")
    );
    let old = [
        ("connection", "Upgrade"),
        ("upgrade", "SPDY/3.1"),
        ("x-stream-protocol-version", "v3.channel.k8s.io"),
    ];
    let (code, msg) = ask("command=ls&stdout=true&container=a", &old).await;
    assert_eq!(code, 403, "{msg}");
    assert!(
        msg.starts_with("unable to upgrade: unable to negotiate protocol: client supports"),
        "{msg}"
    );
    let (code, msg) = ask("command=ls&stdout=true&container=a", &[]).await;
    assert_eq!((code, msg.as_str()), (400, "Upgrade request required"));
}
