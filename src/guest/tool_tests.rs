//! Tests that run external checkers on what the guest ships: shellcheck on
//! every embedded script and `cloud-init schema` on rendered user-data for a
//! plain pod, a multi-container pod with an init container and a GPU pod.
//!
//! When a tool is missing the test prints `skipped: <reason>` and passes,
//! unless `K8SLESS_REQUIRE_TOOLS=1`, which makes it fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SCRIPTS;
use super::tests::{decoded_user_data, rendered};

fn tool_available(tool: &str, probe: &[&str]) -> bool {
    let found = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let reason = format!("{tool} is not installed (Debian package {tool})");
        assert!(
            std::env::var("K8SLESS_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "K8SLESS_REQUIRE_TOOLS=1 but {reason}"
        );
        {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped: {reason}");
        }
    }
    found
}

/// `cloud-init schema --config-file <file>`.
const SCHEMA: [&str; 2] = ["schema", "--config-file"];

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("k8sless-guest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Writes `text` to `path` and runs `checker` with `args` and the path; its exit status.
fn check(checker: &str, args: &[&str], path: &Path, text: &str) -> std::process::Output {
    std::fs::write(path, text).expect("write the file to check");
    Command::new(checker)
        .args(args)
        .arg(path)
        .output()
        .expect("run the checker")
}

/// [`check`] passes.
fn passes(checker: &str, args: &[&str], path: &Path, text: &str) {
    let out = check(checker, args, path, text);
    assert!(
        out.status.success(),
        "{checker} failed on {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shellcheck_every_script() {
    if !tool_available("shellcheck", &["--version"]) {
        return;
    }
    let dir = scratch_dir("shellcheck");
    // All written first: `--external-sources` follows a script's `source` of
    // k8sless-lib.sh into the file beside it (its `source-path=SCRIPTDIR`).
    for (name, text) in SCRIPTS {
        std::fs::write(dir.join(name), text).expect("write the script");
    }
    let mut checked = 0;
    for (name, text) in SCRIPTS.iter().filter(|(n, _)| n.ends_with(".sh")) {
        let args = ["--shell=bash", "--severity=style", "--external-sources"];
        passes("shellcheck", &args, &dir.join(name), text);
        checked += 1;
    }
    assert_eq!(checked, 8);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cloud_init_schema_accepts_the_user_data() {
    if !tool_available("cloud-init", &["--version"]) {
        return;
    }
    let dir = scratch_dir("cloud-init");
    for (pod, items) in rendered() {
        // The metadata value is gzip and base64: cloud-init checks what it decodes to.
        let user_data = decoded_user_data(&items);
        let path = dir.join(format!("{pod}.yaml"));
        passes("cloud-init", &SCHEMA, &path, &user_data);
    }
    // The checker itself must catch a wrongly typed entry.
    let broken = dir.join("broken.yaml");
    let out = check("cloud-init", &SCHEMA, &broken, "#cloud-config\nruncmd: 5\n");
    assert!(
        !out.status.success(),
        "cloud-init schema accepted a broken document"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
