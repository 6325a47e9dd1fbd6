//! A container's process on the stand-in's node: started in the sandbox ([`super::sandbox`]) or,
//! for the stand-in's own tests, in the node's directory; its stdout and stderr pumped line by
//! line into the container's CRI log; its state (running, ended with a code, when) kept for
//! kubelet's endpoints and for the simulated guest, which reports it
//! ([`SimNode::changes`] wakes it at each start and end).

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use super::SimNode;
use super::sandbox::{self, Isolation, Mount};

/// What a container runs.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// `command` then `args` of the container's spec.
    pub command: Vec<String>,
    /// Its `env` (literal values).
    pub env: Vec<(String, String)>,
    /// Its `workingDir` (`/` when unset).
    pub working_dir: Option<String>,
    /// Its volume mounts.
    pub mounts: Vec<Mount>,
    /// Run in the sandbox with this isolation; `None`: a plain process in the node's directory.
    pub sandbox: Option<Isolation>,
}

/// Every signal back to its default action in the child. On a node the chain from systemd to a
/// container's process leaves them so; a `dev` started in the background of a script has
/// SIGINT and SIGQUIT ignored, an ignored signal stays ignored across exec, and a shell cannot
/// trap it (Airflow's XCom sidecar ends on `trap "exit 0" INT`).
fn default_signals() -> std::io::Result<()> {
    for signal in 1..32 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: signal(2) with SIG_DFL is async-signal-safe and touches no memory of ours.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
    Ok(())
}

impl SimNode {
    /// Starts `container`'s process as `launch` says (a restart when one ran before) and
    /// answers its host PID (the container's PID 1 in the sandbox). A sandboxed process whose
    /// PID 1 never appears (its setup failed) is an error, as a runtime's failed start is.
    pub async fn start(self: &Arc<Self>, container: &str, launch: &Launch) -> std::io::Result<u32> {
        let mut child = self.spawn(container, launch)?;
        let launcher = child.id().unwrap_or(0);
        let pid = match launch.sandbox {
            None => launcher,
            Some(_) => match sandbox::pid1_of(launcher, &launch.command).await {
                Some(pid) => pid,
                None => {
                    let _ = child.kill().await;
                    let out = child.wait_with_output().await?;
                    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                    return Err(std::io::Error::other(format!(
                        "the sandbox did not start: {why}"
                    )));
                }
            },
        };
        self.begin(container, child, pid, launch.sandbox)?;
        Ok(pid)
    }

    /// The process of `launch`, not yet recorded.
    pub(super) fn spawn(&self, container: &str, launch: &Launch) -> std::io::Result<Child> {
        let Some((program, args)) = launch.command.split_first() else {
            return Err(std::io::Error::other("no command"));
        };
        let mut cmd = match launch.sandbox {
            Some(isolation) => {
                // A fresh root per run, as a restarted container gets a new writable layer.
                let run = self
                    .container(container)
                    .map_or(0, |c| c.restarts + u32::from(c.started.is_some()));
                let root = self
                    .dir()
                    .join("rootfs")
                    .join(container)
                    .join(run.to_string());
                std::fs::create_dir_all(&root)?;
                for m in &launch.mounts {
                    std::fs::create_dir_all(&m.host)?;
                }
                let wd = launch.working_dir.as_deref().unwrap_or("/");
                sandbox::container_command(isolation, &root, wd, &launch.mounts, &launch.command)
            }
            None => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(args).current_dir(self.dir());
                cmd
            }
        };
        cmd.env_clear()
            .env("PATH", super::runner::PATH)
            .env("HOSTNAME", &self.pod)
            .env(
                "HOME",
                if launch.sandbox.is_some() {
                    "/root"
                } else {
                    "."
                },
            )
            .env("K8SLESS_SIMULATED", "1")
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: default_signals makes only async-signal-safe calls (signal(2)).
        unsafe { cmd.pre_exec(default_signals) };
        cmd.spawn()
    }

    /// Records `child` as `container`'s running process (`pid` its main process on the host),
    /// pumps its output to the log and waits for its end (or the node's stop).
    pub(super) fn begin(
        self: &Arc<Self>,
        container: &str,
        mut child: Child,
        pid: u32,
        isolation: Option<Isolation>,
    ) -> std::io::Result<()> {
        if let Some(dir) = self.log_path(container, 0).parent() {
            std::fs::create_dir_all(dir)?;
        }
        {
            let mut containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
            let c = containers.entry(container.to_string()).or_default();
            if c.started.is_some() {
                c.restarts += 1;
            }
            c.pid = Some(pid);
            c.isolation = isolation;
            c.exit_code = None;
            c.finished = None;
            c.started = Some(jiff::Timestamp::now());
        }
        self.changed();
        let mut pumps = Vec::new();
        let readers: [(
            &'static str,
            Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
        ); 2] = [
            ("stdout", child.stdout.take().map(|o| Box::new(o) as _)),
            ("stderr", child.stderr.take().map(|o| Box::new(o) as _)),
        ];
        for (stream, reader) in readers {
            let Some(reader) = reader else { continue };
            let (node, name) = (self.clone(), container.to_string());
            pumps.push(tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    node.write_line(&name, stream, &line);
                }
            }));
        }
        let (node, name) = (self.clone(), container.to_string());
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    let _ = child.kill().await;
                    child.wait().await
                }
            };
            for p in pumps {
                let _ = p.await;
            }
            {
                let mut containers = node.containers.lock().unwrap_or_else(|p| p.into_inner());
                let c = containers.entry(name).or_default();
                c.pid = None;
                c.exit_code = Some(status.map(super::runner::code).unwrap_or(137));
                c.finished = Some(jiff::Timestamp::now());
            }
            node.changed();
        });
        Ok(())
    }

    /// The directory of the pod's volume `name` (an `emptyDir`), shared by the containers that
    /// mount it.
    pub fn volume_dir(&self, name: &str) -> std::path::PathBuf {
        self.dir().join("volumes").join(name)
    }

    /// The lines of `container`'s current log, with their times.
    pub fn log_lines(&self, container: &str) -> Vec<(jiff::Timestamp, String)> {
        let restarts = self.container(container).map_or(0, |c| c.restarts);
        let buf = std::fs::read(self.log_path(container, restarts)).unwrap_or_default();
        let mut lines = Vec::new();
        super::logs::parse_cri(&buf, &mut None, &mut lines);
        lines.into_iter().map(|l| (l.time, l.text)).collect()
    }

    /// Wakes whoever watches the containers' states.
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes to the containers' states: the value moves at each start and end.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}
