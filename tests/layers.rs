//! The layer rules of docs/architecture.md, checked: reads every `src/**/*.rs`, finds the
//! crate modules each non-test file uses (`crate::x`, `super::…::x` up to the crate root,
//! `crate::{x, y}`), and fails on every use the table below forbids.
//!
//! Rules are by top-level module (`src/<module>.rs` or `src/<module>/…`), so files can move
//! inside a module without touching this test. Test code is exempt: `#[cfg(test)]` items,
//! files they declare (`#[cfg(test)] mod tests;`), and files named `tests.rs`, `*_tests.rs` or
//! under a `tests/` folder. The rules are the table at the top of docs/architecture.md, read
//! from it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One rule: files of module `from` must not use any of `forbidden` (a top-level module, or
/// `module::item` for one item of it); `*` is every module but the [`EXEMPT`] ones.
struct Rule {
    from: String,
    forbidden: Vec<String>,
    why: String,
}

/// The rules, read from the table under "Layer rules" in docs/architecture.md (so that the
/// documented table is the checked one): a row's first cell names the modules (`api/`, or
/// "everything but ..." for `*`), the second the forbidden paths, the third why.
fn rules() -> Vec<Rule> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let doc = std::fs::read_to_string(path).expect("docs/architecture.md");
    let section = doc
        .split("## Layer rules")
        .nth(1)
        .expect("a Layer rules section");
    let ticked = |cell: &str| -> Vec<String> {
        let names = cell.split('`').skip(1).step_by(2);
        names.map(|t| t.trim_end_matches('/').to_string()).collect()
    };
    let mut rules = Vec::new();
    let table = section.lines().skip_while(|l| !l.starts_with('|'));
    for row in table.take_while(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [files, forbidden, why] = cells[..] else {
            panic!("a layer rule has three cells: {row}");
        };
        let froms = if files.starts_with("everything but") {
            vec!["*".to_string()]
        } else {
            ticked(files)
        };
        for from in froms {
            rules.push(Rule {
                from,
                forbidden: ticked(forbidden),
                why: why.to_string(),
            });
        }
    }
    rules
}

/// Modules the `*` rules do not apply to: the wiring (`main`, `cli`, `testing`) and the
/// simulator itself.
const EXEMPT: &[&str] = &["main", "cli", "testing", "sim", "lib"];

#[test]
fn imports_keep_the_layer_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    let test_files = declared_test_files(&files);
    let rules = rules();
    // The table read: every layer named in it, the simulator rule among them.
    assert!(rules.len() >= 15, "{} rules read", rules.len());
    assert!(
        rules
            .iter()
            .any(|r| r.from == "*" && r.forbidden == ["sim"])
    );
    let mut violations = Vec::new();
    for file in &files {
        if is_test_path(&src, file) || test_files.contains(file) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("source file");
        let module = module_path(&src, file);
        for used in used_paths(&production_code(&text), &module) {
            for Rule {
                from,
                forbidden,
                why,
            } in &rules
            {
                let applies = if from == "*" {
                    !EXEMPT.contains(&module[0].as_str())
                } else {
                    module[0] == *from
                };
                if applies && forbidden.iter().any(|f| matches_rule(&used, f)) {
                    violations.push(format!(
                        "{}: {} uses crate::{used} ({why})",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        module[0]
                    ));
                }
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "{} import(s) break the layer rules of docs/architecture.md:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

/// `used` (`store::gcs::GcsStore`) falls under `forbidden` (`store`, `gce::client`).
fn matches_rule(used: &str, forbidden: &str) -> bool {
    used == forbidden
        || used
            .strip_prefix(forbidden)
            .is_some_and(|rest| rest.starts_with("::"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_test_path(src: &Path, file: &Path) -> bool {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let name = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    name == "tests"
        || name.ends_with("_tests")
        || rel
            .parent()
            .is_some_and(|p| p.components().any(|c| c.as_os_str() == "tests"))
}

/// The module path of a file: `src/pods/lifecycle/decide.rs` → `[pods, lifecycle, decide]`,
/// `src/pods/mod.rs` → `[pods]`, `src/lib.rs` → `[lib]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if stem != "mod" || parts.is_empty() {
            parts.push(stem);
        }
    }
    parts
}

/// Files declared by `#[cfg(test)] mod name;`, and everything under them.
fn declared_test_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("source file");
        // `mod x;` in a/mod.rs (or lib.rs, main.rs) is a/x.rs; in a/b.rs it is a/b/x.rs.
        let owns_dir = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
        let base = if owns_dir {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            file.with_extension("")
        };
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if line != "#[cfg(test)]" {
                continue;
            }
            let Some(next) = lines.next() else { break };
            let name = next
                .strip_prefix("mod ")
                .or_else(|| next.strip_prefix("pub(crate) mod "))
                .or_else(|| next.strip_prefix("pub mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(name) = name {
                out.insert(base.join(format!("{name}.rs")));
                out.extend(
                    files
                        .iter()
                        .filter(|f| f.starts_with(base.join(name)))
                        .cloned(),
                );
            }
        }
    }
    out
}

/// The text without comments and without `#[cfg(test)]` items.
fn production_code(text: &str) -> String {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        rest = skip_item(&rest[i + "#[cfg(test)]".len()..]);
    }
    out.push_str(rest);
    out
}

/// What follows the item at the start of `text` (ends at `;` or the brace that closes it).
fn skip_item(text: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &text[i + 1..];
                }
            }
            ';' if depth == 0 => return &text[i + 1..],
            _ => {}
        }
    }
    ""
}

/// Every crate path the code names, from the crate root: `store::gcs::GcsStore`, `sim`.
fn used_paths(code: &str, module: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let at_word = i == 0 || !is_ident(bytes[i - 1] as char) && bytes[i - 1] != b':';
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        if at_word && code[i..].starts_with("crate::") {
            let end = collect(&code[i + "crate::".len()..], "", &mut out);
            i += "crate::".len() + end;
            continue;
        }
        if at_word && code[i..].starts_with("super::") {
            let mut depth = 0;
            let mut j = i;
            while code[j..].starts_with("super::") {
                depth += 1;
                j += "super::".len();
            }
            // `super` from a file of module path M names M minus one segment per `super`;
            // only uses that reach the crate root name a top-level module.
            if depth >= module.len() {
                let end = collect(&code[j..], "", &mut out);
                i = j + end;
                continue;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Reads a path (`a::b::C`, or a group `{a::b, c}`) at the start of `text` into `out`, each
/// prefixed with `prefix`; returns how many bytes it read.
fn collect(text: &str, prefix: &str, out: &mut BTreeSet<String>) -> usize {
    if text.starts_with('{') {
        return collect_group(text, prefix, out);
    }
    let mut path = prefix.to_string();
    let mut read = 0;
    let mut rest = text;
    loop {
        let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            break;
        }
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(&ident);
        read += ident.len();
        rest = &rest[ident.len()..];
        let Some(after) = rest.strip_prefix("::") else {
            break;
        };
        read += 2;
        rest = after;
        if rest.starts_with('{') {
            return read + collect_group(rest, &path, out);
        }
    }
    if !path.is_empty() && path != prefix {
        out.insert(path);
    }
    read
}

/// Reads `{a, b::c, d::{e}}` at the start of `text`; returns how many bytes it read.
fn collect_group(text: &str, prefix: &str, out: &mut BTreeSet<String>) -> usize {
    let mut read = 1;
    let mut rest = &text[1..];
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        read += rest.len() - trimmed.len();
        rest = trimmed;
        if rest.is_empty() {
            return read;
        }
        if rest.starts_with('}') {
            return read + 1;
        }
        let n = collect(rest, prefix, out);
        if n == 0 {
            return read + 1;
        }
        read += n;
        rest = &rest[n..];
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[test]
fn the_checker_reads_paths_groups_and_super() {
    let module = vec!["pods".to_string(), "read".to_string()];
    let used = used_paths(
        "use crate::{api::extract::{self, X}, gce};\nuse super::super::sim::Sim;\nlet x = crate::store::memory::M::new();",
        &module,
    );
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert!(used.contains(&"api::extract::self"), "{used:?}");
    assert!(used.contains(&"gce"), "{used:?}");
    assert!(used.contains(&"sim::Sim"), "{used:?}");
    assert!(used.contains(&"store::memory::M::new"), "{used:?}");
    assert!(matches_rule("gce::client::Client", "gce::client"));
    assert!(!matches_rule("gce::catalog", "gce::client"));
    let code = production_code(
        "use crate::gce;\n// crate::sim in a comment\n#[cfg(test)]\nmod tests {\n    use crate::sim::Sim;\n}\n",
    );
    assert!(!code.contains("sim"), "{code}");
    assert_eq!(
        module_path(Path::new("src"), Path::new("src/pods/mod.rs")),
        vec!["pods"]
    );
}
