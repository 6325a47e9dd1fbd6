//! Real kubectl against an in-process `k8sless dev` stack (simulated guests), once per bundled
//! kubectl version the dispatcher offers: apply, create, run, get (tables, wide, -A, labels,
//! sort, yaml/json/jsonpath, watch), wait, logs (-f, --tail), describe, delete; exec, attach and
//! cp in tests/e2e/kubectl_exec.rs.
//! Each version gets its own stack and runs in its own test, so the versions run in parallel.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8sless::sim::SimTimings;
use k8sless::testing::{Stack, StackBuilder, default_args};

use crate::common;

const BIN_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// One kubectl binary pointed at one stack, with a throwaway kubeconfig and cache (also used
/// by the kubelet suite, `kubelet.rs`).
pub(crate) struct Kubectl {
    pub(crate) bin: PathBuf,
    pub(crate) server: String,
    pub(crate) dir: PathBuf,
}

impl Kubectl {
    /// `bin` pointed at `stack`, with an empty kubeconfig in a fresh temp folder named for
    /// `suite`, the version and the stack's port (so parallel suites never share a cache).
    pub(crate) fn for_stack(bin: PathBuf, stack: &Stack, suite: &str, version: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "k8sless-{suite}-{version}-{}-{}",
            std::process::id(),
            stack.addr.port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let k = Kubectl {
            bin,
            server: stack.base.clone(),
            dir,
        };
        k.write("kubeconfig", "apiVersion: v1\nkind: Config\n");
        k
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg(format!("--server={}", self.server))
            .arg(format!(
                "--kubeconfig={}",
                self.dir.join("kubeconfig").display()
            ))
            .arg(format!("--cache-dir={}", self.dir.join("cache").display()))
            .arg("--request-timeout=30s")
            .args(args)
            .env("HOME", &self.dir)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null());
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kubectl runs")
    }

    /// Runs and asserts success and a stderr free of client-side errors; returns stdout.
    /// `kubectl run NAME --restart=Never -- sleep 120` (busybox; simulated for 120 s where the
    /// guest simulates): a pod alive long enough for exec and port-forward.
    pub(crate) fn run_sleeper(&self, name: &str) -> String {
        self.ok(&[
            "run",
            name,
            "--image=busybox:1.36",
            "--restart=Never",
            "--annotations=k8sless.dev/simulate-duration=120s",
            "--",
            "sleep",
            "120",
        ])
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "{} {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}",
            self.bin.display()
        );
        assert!(
            !stderr
                .lines()
                .any(|l| l.starts_with('E') || l.contains("Warning")),
            "{} {args:?} complained on stderr: {stderr}",
            self.bin.display()
        );
        stdout
    }

    /// Runs and asserts failure; returns stderr.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{} {args:?} succeeded: {}",
            self.bin.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl spawns")
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write manifest");
        path.display().to_string()
    }
}

fn manifest(name: &str, label: &str, duration: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {label}\n  \
         annotations:\n    k8sless.dev/simulate-duration: \"{duration}\"\nspec:\n  \
         restartPolicy: Never\n  containers:\n    - name: main\n      image: busybox:1.36\n      \
         command: [\"sh\", \"-c\", \"echo hi\"]\n      resources:\n        requests:\n          \
         cpu: 250m\n          memory: 256Mi\n"
    )
}

/// Kills a watch and returns what it printed.
fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    out
}

/// The STATUS column of the watch lines about `name`, consecutive duplicates folded.
fn statuses(watch: &str, name: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for line in watch.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&name)
            && let Some(s) = cols.get(2)
            && seen.last().map(String::as_str) != Some(*s)
        {
            seen.push((*s).to_string());
        }
    }
    seen
}

fn position(seen: &[String], any_of: &[&str]) -> Option<usize> {
    seen.iter().position(|s| any_of.contains(&s.as_str()))
}

/// The bundled `kubectl.<version>`, or the one on PATH; `None` (skipped with a printed
/// reason, or a failure under K8SLESS_REQUIRE_TOOLS=1) when neither exists.
pub(crate) fn kubectl_bin(version: &str) -> Option<PathBuf> {
    let name = format!("kubectl.{version}");
    let bin = Path::new(BIN_DIR).join(&name);
    if bin.is_file() {
        return Some(bin);
    }
    // `common::tool` looks on PATH; the bundled versions live beside the dispatcher.
    common::tool(&name).then(|| PathBuf::from(&name))
}

fn suite(version: &str) {
    let name = format!("kubectl.{version}");
    let Some(bin) = kubectl_bin(version) else {
        return;
    };
    common::init();
    let rt = common::runtime();
    let mut args = default_args();
    args.log_follow_interval = std::time::Duration::from_millis(200);
    let mut b = StackBuilder::new(args).running_pods();
    b.timings = SimTimings::REALISTIC; // as `k8sless dev`: the watch polls each second
    b.kubelet = true; // exec, attach and cp reach the kubelet stand-in
    let stack = rt.block_on(b.start()).expect("stack starts");
    let k = Kubectl::for_stack(bin, &stack, "kubectl", version);
    let started = Instant::now();

    apply_and_get(&k);
    watch_and_logs(&k, version);
    run_and_output_formats(&k);
    describe_label_and_delete(&k);
    super::kubectl_tenancy::namespaces_and_quota(&k);

    eprintln!("{name}: suite passed in {:?}", started.elapsed());
    // Not `stop()`: a graceful shutdown waits for the killed watch's stream to notice.
    drop(stack);
    rt.shutdown_background();
    let _ = std::fs::remove_dir_all(&k.dir);
}

/// apply (create, then configure) and get: the table's columns, the node is the VM.
fn apply_and_get(k: &Kubectl) {
    // apply twice: created, then configured with the changed label.
    let first = k.write("hello.yaml", &manifest("hello", "web", "3s"));
    assert!(k.ok(&["apply", "-f", &first]).contains("pod/hello created"));
    let second = k.write("hello2.yaml", &manifest("hello", "web2", "3s"));
    assert!(
        k.ok(&["apply", "-f", &second])
            .contains("pod/hello configured")
    );
    let labels = k.ok(&["get", "pod", "hello", "--show-labels"]);
    assert!(
        labels.lines().next().is_some_and(|h| h.contains("LABELS")),
        "{labels}"
    );
    assert!(labels.contains("app=web2"), "{labels}");

    // get: the table's columns; wide: the node is the VM.
    let table = k.ok(&["get", "pods"]);
    let header = header(&table);
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{table}"
    );
    let vm = k.ok(&["get", "pod", "hello", "-o", "jsonpath={.spec.nodeName}"]);
    assert!(
        vm.starts_with("k8s-") && vm.contains("-default-hello-"),
        "{vm}"
    );
    let wide = k.ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.lines().next().is_some_and(|h| h.contains("NODE")),
        "{wide}"
    );
    assert!(wide.contains(&vm), "{wide}");
}

/// get -w from before a create sees Pending, Running, Completed; logs -f follows; --tail.
fn watch_and_logs(k: &Kubectl, version: &str) {
    // get -w from before the create: Pending → (ContainerCreating →) Running → Completed.
    let watch = k.spawn(&["get", "pods", "-w"]);
    std::thread::sleep(Duration::from_millis(500));
    let job = k.write("job.yaml", &manifest("job", "job", "3s"));
    assert!(k.ok(&["create", "-f", &job]).contains("pod/job created"));
    assert!(
        k.fails(&["create", "-f", &job]).contains("AlreadyExists"),
        "a second create conflicts"
    );
    k.ok(&["wait", "--for=condition=Ready", "pod/job", "--timeout=60s"]);
    // logs -f follows until the container ends.
    let t = Instant::now();
    let followed = k.ok(&["logs", "-f", "job"]);
    assert!(followed.contains("simulated"), "{followed}");
    assert!(followed.contains("exited with code 0"), "{followed}");
    assert!(t.elapsed() < Duration::from_secs(30));
    k.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/job",
        "--timeout=60s",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let watched = stop(watch);
    let seen = statuses(&watched, "job");
    let pending = position(&seen, &["Pending", "ContainerCreating"]);
    let running = position(&seen, &["Running"]);
    let done = position(&seen, &["Completed"]);
    assert!(
        pending.is_some() && pending < running && running < done,
        "{version} watch saw {seen:?}:\n{watched}"
    );

    // logs and --tail.
    let logs = k.ok(&["logs", "job"]);
    assert!(
        logs.lines().count() > 1 && logs.contains("simulated"),
        "{logs}"
    );
    let tail = k.ok(&["logs", "job", "--tail=1"]);
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert!(tail.contains("exited with code 0"), "{tail}");
}

/// run and exec; get -A, --sort-by, -o yaml/json/jsonpath.
fn run_and_output_formats(k: &Kubectl) {
    // run --restart=Never; a long run so exec meets a live pod.
    let ran = k.run_sleeper("runner");
    assert!(ran.contains("pod/runner created"), "{ran}");
    super::kubectl_exec::flows(k, "runner");

    // get -A, --sort-by, -o yaml/json/jsonpath.
    let all = k.ok(&["get", "pods", "-A"]);
    assert!(all.starts_with("NAMESPACE"), "{all}");
    assert!(all.contains("default") && all.contains("runner"), "{all}");
    let sorted = k.ok(&["get", "pods", "--sort-by=.metadata.name", "-o", "name"]);
    assert_eq!(
        sorted.lines().collect::<Vec<_>>(),
        ["pod/hello", "pod/job", "pod/runner"],
        "{sorted}"
    );
    let by_time = k.ok(&["get", "pods", "--sort-by=.metadata.creationTimestamp"]);
    let names: Vec<&str> = by_time
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["hello", "job", "runner"], "{by_time}");
    let yaml = k.ok(&["get", "pod", "job", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Pod") && yaml.contains("phase: Succeeded"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "pods", "-o", "json"])).expect("-o json parses");
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"].as_array().map(Vec::len), Some(3));
    let phase = k.ok(&["get", "pod", "job", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Succeeded");
    let table = k.ok(&["get", "pod", "job"]);
    assert!(table.contains("Completed"), "{table}");
}

/// The column names of a table kubectl printed: its first line's words.
fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

/// describe and get events; label and patch a live pod; delete returns when it is gone.
fn describe_label_and_delete(k: &Kubectl) {
    // describe shows the events.
    let described = k.ok(&["describe", "pod", "job"]);
    assert!(described.contains("Events:"), "{described}");
    assert!(described.contains("Scheduled"), "{described}");
    assert!(described.contains("Started"), "{described}");
    assert!(described.contains("NodeFacts"), "{described}");

    // get events: the API server's columns.
    let events = k.ok(&["get", "events"]);
    let header = header(&events);
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );
    assert!(
        events
            .lines()
            .any(|l| l.contains("Scheduled") && l.contains("pod/job")),
        "{events}"
    );

    // label and patch change a live pod.
    assert!(
        k.ok(&["label", "pod", "job", "tier=batch"])
            .contains("labeled")
    );
    let patch = r#"{"metadata":{"annotations":{"note":"x"}}}"#;
    assert!(
        k.ok(&["patch", "pod", "job", "-p", patch])
            .contains("patched")
    );
    let labels = k.ok(&["get", "pods", "-l", "tier=batch", "-o", "name"]);
    assert_eq!(labels.trim(), "pod/job");

    // delete returns when the pod is gone.
    let deleted = k.ok(&["delete", "pod", "runner"]);
    assert!(deleted.contains("\"runner\" deleted"), "{deleted}");
    let gone = k.fails(&["get", "pod", "runner"]);
    assert!(gone.contains("NotFound"), "{gone}");
}

#[test]
fn kubectl_1_29() {
    suite("1.29");
}

#[test]
fn kubectl_1_32() {
    suite("1.32");
}

#[test]
fn kubectl_1_33() {
    suite("1.33");
}
