//! Runs one exec (or attach) as a real process in the pod's scratch directory and joins it to a
//! session: stdin, stdout and stderr as pipes, or all three on a pseudo-terminal with `tty`;
//! the exit as the `Status` kubelet writes (Success, NonZeroExitCode with the code, or an
//! InternalError when it cannot start). The process is killed when the client goes away.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::pty::{self, Pty};
use crate::stream::{Input, Output, ProcessEnds, StreamOptions, TerminalSize, status};

/// How long output may keep flowing after the process exited (a child it left behind may
/// hold the pipe open; containerd waits for the pipes too, but not forever here).
const DRAIN: Duration = Duration::from_secs(2);

/// The `PATH` of every process (and where a container's program is looked for).
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment every process gets; `K8SLESS_SIMULATED` and the prompt mark it as the
/// stand-in's, not a container's.
fn environment(cmd: &mut Command, pod: &str) {
    cmd.env_clear()
        .env("PATH", PATH)
        .env("HOSTNAME", pod)
        .env("HOME", ".")
        .env("TERM", "xterm")
        .env("K8SLESS_SIMULATED", "1")
        .env("PS1", "[simulated] $ ");
}

/// Runs `command` in `dir` for `pod` and serves it on `ends` until it has exited.
pub(crate) async fn run(
    command: Vec<String>,
    dir: &Path,
    pod: &str,
    opts: StreamOptions,
    ends: ProcessEnds,
) {
    let opts = opts.normalized();
    let Some((program, args)) = command.split_first() else {
        let _ = ends
            .output
            .send(Output::Status(status::internal("no command")))
            .await;
        return;
    };
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).kill_on_drop(true);
    environment(&mut cmd, pod);
    let result = if opts.tty {
        run_tty(cmd, ends.input, &ends.output).await
    } else {
        run_pipes(cmd, opts, ends.input, &ends.output).await
    };
    let status = match result {
        Ok(Some(0)) => status::success(),
        Ok(Some(code)) => status::exited(&command, code),
        Ok(None) => return, // the client went away; the process was killed
        Err(e) => status::internal(&format!("exec: {program:?}: {e}")),
    };
    let _ = ends.output.send(Output::Status(status)).await;
}

/// A process' exit code, 128 + the signal when a signal ended it (a shell's convention, and
/// kubelet's for a killed container).
pub(super) fn code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Exit code, or `None` when the client left first.
async fn run_pipes(
    mut cmd: Command,
    opts: StreamOptions,
    mut input: mpsc::Receiver<Input>,
    output: &mpsc::Sender<Output>,
) -> std::io::Result<Option<i32>> {
    let pipe = |on: bool| {
        if on {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        }
    };
    cmd.stdin(pipe(opts.stdin))
        .stdout(pipe(opts.stdout))
        .stderr(pipe(opts.stderr))
        // Its own group, killed whole when the client leaves (nsenter's child with it).
        .process_group(0);
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(copy(out, output.clone(), true)));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(copy(err, output.clone(), false)));
    }
    let feeding = async {
        while let Some(i) = input.recv().await {
            let failed = match (&i, stdin.as_mut()) {
                (Input::Stdin(data), Some(pipe)) => pipe.write_all(data).await.is_err(),
                _ => false,
            };
            // Dropping the pipe closes the child's stdin.
            if failed || i == Input::StdinEnd {
                stdin = None;
            }
        }
        // The client is gone.
        std::future::pending::<()>().await
    };
    let exit = wait_or_leave(&mut child, output, feeding).await?;
    drain(readers).await;
    Ok(exit)
}

async fn run_tty(
    mut cmd: Command,
    mut input: mpsc::Receiver<Input>,
    output: &mpsc::Sender<Output>,
) -> std::io::Result<Option<i32>> {
    let (master, [i, o, e]) = Pty::open(TerminalSize {
        width: 80,
        height: 24,
    })?
    .take_slave()?;
    cmd.stdin(i).stdout(o).stderr(e);
    // SAFETY: become_session_leader makes only async-signal-safe system calls.
    unsafe { cmd.pre_exec(pty::become_session_leader) };
    let mut child = cmd.spawn()?;
    drop(cmd); // the parent's copies of the slave: reading the master ends when the child's do
    let master = std::sync::Arc::new(master);
    let reader = {
        let (master, output) = (master.clone(), output.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = pty::read(&master, &mut buf).await {
                if n == 0
                    || output
                        .send(Output::Stdout(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                {
                    break;
                }
            }
        })
    };
    let feeding = async {
        while let Some(i) = input.recv().await {
            let _ = match i {
                Input::Stdin(data) => pty::write_all(&master, &data).await,
                // A terminal cannot half-close: end-of-file is ^D, as a user would type it.
                Input::StdinEnd => pty::write_all(&master, b"\x04").await,
                Input::Resize(size) => Pty::resize_fd(&master, size),
            };
        }
        std::future::pending::<()>().await
    };
    let exit = wait_or_leave(&mut child, output, feeding).await?;
    drain(vec![reader]).await;
    Ok(exit)
}

/// Waits for the child while `feeding` runs; kills it if the client's side closes first.
async fn wait_or_leave(
    child: &mut Child,
    output: &mpsc::Sender<Output>,
    feeding: impl Future<Output = ()>,
) -> std::io::Result<Option<i32>> {
    tokio::select! {
        status = child.wait() => Ok(Some(code(status?))),
        () = output.closed() => {
            // The process' group (a tty session's leader leads one too): what nsenter forked
            // into a container ends with it.
            if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill().await;
            Ok(None)
        }
        () = feeding => unreachable_feeding(),
    }
}

fn unreachable_feeding() -> std::io::Result<Option<i32>> {
    // `feeding` ends in `pending()`; this arm exists only to drive it.
    Ok(None)
}

async fn drain(readers: Vec<tokio::task::JoinHandle<()>>) {
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(DRAIN, r).await.is_err() {
            abort.abort();
        }
    }
}

async fn copy<R: AsyncRead + Unpin>(mut from: R, output: mpsc::Sender<Output>, stdout: bool) {
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        let data = Bytes::copy_from_slice(&buf[..n]);
        let out = if stdout {
            Output::Stdout(data)
        } else {
            Output::Stderr(data)
        };
        if n == 0 || output.send(out).await.is_err() {
            return;
        }
    }
}
