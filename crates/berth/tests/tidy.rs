//! Tidy rules, checked as tests: module docs, module size, crate layering,
//! and ARCHITECTURE.md agreeing with the code it describes.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_file_says_what_it_owns_and_stays_small() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    assert!(files.len() > 20);
    let mut problems = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if !text.starts_with("//!") {
            problems.push(format!("{}: does not open with a `//!` doc", f.display()));
        }
        let lines = text.lines().count();
        if lines > 600 {
            problems.push(format!("{}: {lines} lines (limit 600)", f.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Layers from the bottom up. A crate may depend only on crates of a lower
/// layer; the pure layer depends on no I/O crate at all.
const LAYERS: &[&[&str]] = &[
    &["manifest", "authz"],
    &["store", "docker", "registry"],
    &["apps", "sync", "identity"],
    &["api", "gateway", "web"],
    &["berth"],
];

/// Third-party crates only some of our crates may use.
const OWNED_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("sqlx", &["store"]),
    ("bollard", &["docker"]),
    ("axum", &["api", "web"]),
    ("askama", &["web"]),
];

const IO_CRATES: &[&str] = &["tokio", "sqlx", "bollard", "axum", "reqwest", "hyper"];

fn dependencies(krate: &str) -> Vec<String> {
    let manifest =
        std::fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some(name) = line.split(['=', '.', ' ']).next() {
                deps.push(name.to_owned());
            }
        }
    }
    deps
}

fn layer_of(krate: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&krate))
}

#[test]
fn crate_arrows_point_down_only() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
    {
        let krate = entry.file_name().to_string_lossy().into_owned();
        if krate == "test-support" {
            continue;
        }
        let Some(layer) = layer_of(&krate) else {
            problems.push(format!(
                "crate `{krate}` is in no layer; add it to LAYERS and ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in dependencies(&krate) {
            if let Some(inner) = dep.strip_prefix("berth-") {
                match layer_of(inner) {
                    Some(l) if l < layer => {}
                    _ => problems.push(format!(
                        "`{krate}` depends on `{dep}`, which is not below it"
                    )),
                }
            }
            if layer == 0 && IO_CRATES.contains(&dep.as_str()) {
                problems.push(format!("pure crate `{krate}` depends on `{dep}`"));
            }
            for (owned, owners) in OWNED_DEPENDENCIES {
                if dep == *owned && !owners.contains(&krate.as_str()) {
                    problems.push(format!(
                        "only {owners:?} may depend on `{owned}`, but `{krate}` does"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn architecture_md_prints_the_current_permission_policy() {
    let doc = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let table = berth_authz::policy::policy_table();
    assert!(
        doc.contains(table.trim()),
        "ARCHITECTURE.md's policy table is out of date; paste this:\n{table}"
    );
}
