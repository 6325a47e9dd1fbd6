//! The stand-in's pod sandbox: each container's process runs in **its own mount and PID
//! namespace** (`unshare --mount --pid --fork`, as root; with `--user --map-root-user` as
//! another user), under a root of its own in the node's scratch directory, as a container
//! runtime runs a container. Inside:
//!
//! - the root is `<node>/rootfs/<container>/<run>` (a fresh one per restart): the host's system directories (`/usr`, `/bin`,
//!   `/lib*`, `/etc`, ...) bind-mounted read-only, a fresh `/proc` (so `ps`, `pgrep` and
//!   `kill` see the container's processes only), a small `/dev` (null, zero, full, random,
//!   urandom, tty, pts), and every other path (`/tmp`, `/root`, ...) a writable directory of
//!   the container's own;
//! - the command is PID 1 of its namespace, so `kill -s SIGINT 1` signals the container's main
//!   process, and that process' end ends every process of the container (the kernel's rule for
//!   a PID namespace), as on a node where kubelet gives each container its own PID namespace
//!   (`shareProcessNamespace` unset);
//! - each `emptyDir` volume is one directory per pod (`<node>/volumes/<name>`) bind-mounted at
//!   the `mountPath` of every container that mounts it, so containers share it as they do on a
//!   node.
//!
//! exec enters the container's namespaces and root (`nsenter --target <PID 1> --mount --pid
//! --root --wd`).
//!
//! What it does not cover (docs/exec.md, docs/simulator.md): images are never pulled; every
//! container runs the host's binaries, so a command must exist on the host and an image's
//! default entrypoint is unknown (a container without `command` stays simulated). There is no
//! network, UTS, IPC or cgroup isolation (the container shares the host's network, and
//! resource limits are not enforced), no user from `securityContext`, no volume type but
//! `emptyDir`, and no shared PID namespace for `shareProcessNamespace: true` (such pods stay
//! simulated). When namespaces cannot be made ([`available`] says why), the simulated guest
//! plays every pod as before, with no processes.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The container's setup, run by `sh` as PID 1 of the new namespaces before it becomes the
/// container's command (`exec chroot`). Arguments: the root, the working directory, then
/// `HOST PATH` pairs of mounts, `--`, the command. Mount propagation is private (unshare's
/// `--propagation private`, stated explicitly), so nothing here is ever visible on the host.
const SETUP: &str = r#"set -e
root=$1; wd=$2; shift 2
for d in bin sbin lib lib32 lib64 libx32 usr etc opt; do
  if [ -L "/$d" ]; then ln -sfn "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then
    mkdir -p "$root/$d"; mount --rbind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
  fi
done
mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/root"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=755,size=256k tmpfs "$root/dev"
for n in null zero full random urandom tty; do
  touch "$root/dev/$n"; mount --bind "/dev/$n" "$root/dev/$n"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount --rbind /dev/pts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"; ln -s /proc/self/fd "$root/dev/fd"
while [ "$1" != "--" ]; do
  mkdir -p "$root$2"; mount --bind "$1" "$root$2"; shift 2
done
shift
mkdir -p "$root$wd"
exec chroot "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$wd" "$@"
"#;

/// How namespaces are made here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// As root: mount and PID namespaces.
    Root,
    /// As another user: the same inside a user namespace that maps the user to root.
    UserNamespace,
}

/// One volume mount: the pod's directory for the volume, and where the container sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The volume's directory on the host (`<node>/volumes/<name>`).
    pub host: PathBuf,
    /// The container's `mountPath`.
    pub path: String,
}

/// Whether the sandbox can be made on this machine: the isolation it uses, or why not (a
/// missing tool, or `unshare` refused). Probed once per process.
pub fn available() -> Result<Isolation, String> {
    static PROBE: OnceLock<Result<Isolation, String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<Isolation, String> {
    for tool in ["unshare", "nsenter", "chroot", "mount"] {
        if find_program(tool).is_none() {
            return Err(format!("{tool} is not on PATH (util-linux, coreutils)"));
        }
    }
    let isolation = if rustix::process::geteuid().is_root() {
        Isolation::Root
    } else {
        Isolation::UserNamespace
    };
    let out = std::process::Command::new("unshare")
        .args(unshare_flags(isolation))
        .args(["sh", "-c", "mount -t tmpfs tmpfs /tmp && test $$ = 1"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if out.status.success() {
        Ok(isolation)
    } else {
        Err(format!(
            "unshare {} failed ({}): {}",
            unshare_flags(isolation).join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn unshare_flags(isolation: Isolation) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if isolation == Isolation::UserNamespace {
        flags.extend(["--user", "--map-root-user"]);
    }
    // --kill-child: the container's PID 1 (and with it every process of the namespace) dies
    // with the launcher, which the node kills when the VM goes.
    flags.extend([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
    ]);
    flags
}

/// The launcher of a container: `unshare` running [`SETUP`], which becomes `command` as PID 1
/// of the container's namespaces, under `root`, in `working_dir`.
pub(crate) fn container_command(
    isolation: Isolation,
    root: &Path,
    working_dir: &str,
    mounts: &[Mount],
    command: &[String],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.args(unshare_flags(isolation))
        .args(["sh", "-c", SETUP, "sandbox"])
        .arg(root)
        .arg(working_dir);
    for m in mounts {
        cmd.arg(&m.host).arg(&m.path);
    }
    cmd.arg("--").args(command);
    cmd
}

/// `command` run inside the container whose PID 1 is `pid` on the host: its mount and PID
/// namespaces, its root and its working directory.
pub(crate) fn enter_command(isolation: Isolation, pid: u32, command: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec!["nsenter".into(), "--target".into(), pid.to_string()];
    if isolation == Isolation::UserNamespace {
        out.extend(["--user".into(), "--preserve-credentials".into()]);
    }
    out.extend(["--mount", "--pid", "--root", "--wd", "--"].map(String::from));
    out.extend(command.iter().cloned());
    out
}

/// The host PID of the container's PID 1 (the launcher's only child) once it **is**
/// `command`: until then PID 1 is the setup's shell, and a signal sent meanwhile (Airflow's
/// SIGINT to its sidecar) would meet a `sh -c`, which catches SIGINT, instead of the command's
/// own trap. A runtime reports a container running once its process is the command, too. A
/// PID 1 that ended before it was seen as the command (a quick command, or a failed setup,
/// whose exit code then says so) is answered as it was; `None` when no child ever appeared.
pub(crate) async fn pid1_of(launcher: u32, command: &[String]) -> Option<u32> {
    let children = format!("/proc/{launcher}/task/{launcher}/children");
    let mut want: Vec<u8> = Vec::new();
    for arg in command {
        want.extend_from_slice(arg.as_bytes());
        want.push(0);
    }
    let mut seen: Option<u32> = None;
    // 10 s: the setup is a few mounts, but a loaded machine may be slow.
    for _ in 0..2000 {
        let Ok(text) = tokio::fs::read_to_string(&children).await else {
            return seen; // the launcher is gone
        };
        match text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            Some(pid) => {
                seen = Some(pid);
                let cmdline = tokio::fs::read(format!("/proc/{pid}/cmdline")).await;
                if cmdline.is_ok_and(|c| c == want) {
                    return seen;
                }
            }
            // Forked, then ended (the launcher waits to be reaped).
            None if seen.is_some() => return seen,
            None => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    seen
}

/// Whether `path` can be a mount point or working directory inside the root: absolute, and
/// without `..` (Kubernetes' validation refuses `..` in a `mountPath` too).
pub(crate) fn valid_container_path(path: &str) -> bool {
    let p = Path::new(path);
    p.is_absolute() && p.components().all(|c| !matches!(c, Component::ParentDir))
}

/// Where `program` is on the host: itself when it is a path, else the first match on the
/// containers' `PATH`.
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    super::runner::PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_absolute_without_dot_dot() {
        for (path, valid) in [
            ("/airflow/xcom", true),
            ("airflow/xcom", false),
            ("/airflow/../etc", false),
        ] {
            assert_eq!(valid_container_path(path), valid, "{path}");
        }
    }

    #[test]
    fn exec_enters_the_containers_namespaces_and_root() {
        let c = enter_command(Isolation::Root, 42, &["cat".into(), "/f".into()]);
        assert_eq!(
            c.join(" "),
            "nsenter --target 42 --mount --pid --root --wd -- cat /f"
        );
        let u = enter_command(Isolation::UserNamespace, 42, &["id".into()]);
        assert!(
            u.join(" ")
                .contains("--user --preserve-credentials --mount")
        );
    }
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod live_tests;
