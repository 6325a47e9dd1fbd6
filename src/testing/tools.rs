//! What a test needs from its environment: external tools, shared peers and the reference
//! fixtures. When one is absent the test prints `skipped: <reason>` (past the harness' output
//! capture) and passes, unless `K8SLESS_REQUIRE_TOOLS=1` (CI), which makes it a failure.

use std::path::PathBuf;

/// Whether every tool, peer and fixture is required (`K8SLESS_REQUIRE_TOOLS=1`).
pub fn tools_required() -> bool {
    std::env::var("K8SLESS_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Prints a skip reason past the test harness' output capture, so it shows in every run.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// Something the test needs is absent: a panic when tools are required, else a printed skip.
pub fn missing(reason: &str) {
    assert!(!tools_required(), "K8SLESS_REQUIRE_TOOLS=1 but {reason}");
    skip(reason);
}

/// The text of a reference fixture, or `None` after [`missing`] when it is absent (see
/// [`fixture`]).
pub fn fixture_text(name: &str) -> Option<String> {
    let path = fixture(name)?;
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The path of a reference fixture (`../shared/fixtures/<name>` from the crate root, e.g.
/// `compute-v1.json`), or `None` after [`missing`] when it is absent.
pub fn fixture(name: &str) -> Option<PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        missing(&format!("the fixture ../shared/fixtures/{name} is absent"));
        None
    }
}
