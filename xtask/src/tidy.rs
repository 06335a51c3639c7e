//! Tidy: ARCHITECTURE.md's dependency rules, checked against `cargo metadata`.
//!
//! - gil-core depends on no other workspace package;
//! - a lesson (a package under `crates/` other than gil-core) depends on no workspace package
//!   but gil-core;
//! - xtask depends on no lesson;
//! - the heavy dependencies ([`HEAVY`]) are in the normal dependency tree (what a plain build
//!   compiles, build scripts included) of none of xtask, exercises, solutions, gil-core or a
//!   lesson: `cargo xtask list`, the first `check` and a learner's first lesson never build
//!   them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Crates too heavy for the learner's path: the book renderer and its template engine, plot
/// libraries, model checkers, browser drivers.
const HEAVY: [&str; 8] = [
    "mdbook",
    "pulldown-cmark",
    "handlebars",
    "plotters",
    "stateright",
    "loom",
    "headless_chrome",
    "chromiumoxide",
];

/// The packages that must stay light.
const LIGHT: [&str; 4] = ["xtask", "exercises", "solutions", "gil-core"];

/// The workspace as `cargo metadata` resolves it.
struct Workspace {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Workspace member name → its directory relative to the root.
    members: BTreeMap<String, PathBuf>,
    /// Package id → (dependency id, kinds: "normal", "dev", "build").
    deps: BTreeMap<String, Vec<(String, Vec<String>)>>,
    /// Workspace member name → id.
    ids: BTreeMap<String, String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

/// The target triple rustc builds for by default (`rustc -vV`'s `host:` line).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .trim()
        .to_owned()
}

fn workspace() -> Workspace {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = root();
    // Only this machine's platform: other platforms' crates need not be downloaded.
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_triple(), "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let member_ids: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut ws = Workspace {
        names: BTreeMap::new(),
        members: BTreeMap::new(),
        deps: BTreeMap::new(),
        ids: BTreeMap::new(),
    };
    for package in meta["packages"].as_array().expect("packages") {
        let id = package["id"].as_str().expect("id").to_owned();
        let name = package["name"].as_str().expect("name").to_owned();
        if member_ids.contains(id.as_str()) {
            let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest"));
            let dir = manifest.parent().expect("a manifest has a directory");
            let dir = dir.strip_prefix(&root).unwrap_or(dir).to_owned();
            ws.members.insert(name.clone(), dir);
            ws.ids.insert(name.clone(), id.clone());
        }
        ws.names.insert(id, name);
    }
    for node in meta["resolve"]["nodes"].as_array().expect("resolve.nodes") {
        let id = node["id"].as_str().expect("node id").to_owned();
        let deps = node["deps"]
            .as_array()
            .expect("node deps")
            .iter()
            .map(|dep| {
                let kinds = dep["dep_kinds"]
                    .as_array()
                    .map(|kinds| {
                        kinds
                            .iter()
                            .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                (dep["pkg"].as_str().expect("dep pkg").to_owned(), kinds)
            })
            .collect();
        ws.deps.insert(id, deps);
    }
    ws
}

impl Workspace {
    fn id(&self, member: &str) -> &str {
        self.ids
            .get(member)
            .unwrap_or_else(|| panic!("{member} is not a workspace member"))
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    /// Workspace members `member` depends on directly, in any kind (normal, dev, build).
    fn member_deps(&self, member: &str) -> BTreeSet<&str> {
        self.deps[self.id(member)]
            .iter()
            .map(|(dep, _)| self.name(dep))
            .filter(|name| self.members.contains_key(*name))
            .collect()
    }

    /// The lessons: packages under `crates/` other than gil-core.
    fn lessons(&self) -> Vec<&str> {
        self.members
            .iter()
            .filter(|(name, dir)| dir.starts_with("crates") && *name != "gil-core")
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Every package a plain build of `member` compiles, with the path that pulls it in.
    fn normal_tree(&self, member: &str) -> BTreeMap<&str, Vec<&str>> {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let start = self.id(member);
        let mut stack = vec![(start, vec![self.name(start)])];
        while let Some((id, path)) = stack.pop() {
            for (dep, kinds) in self.deps.get(id).into_iter().flatten() {
                if !kinds.iter().any(|k| k == "normal" || k == "build") {
                    continue;
                }
                let name = self.name(dep);
                if seen.contains_key(name) {
                    continue;
                }
                let mut to = path.clone();
                to.push(name);
                seen.insert(name, to.clone());
                stack.push((dep.as_str(), to));
            }
        }
        seen
    }
}

/// Every rule broken, one line each.
fn violations(ws: &Workspace) -> Vec<String> {
    let lessons = ws.lessons();
    let mut broken = Vec::new();
    for dep in ws.member_deps("gil-core") {
        broken.push(format!("gil-core depends on the workspace package {dep}"));
    }
    for lesson in &lessons {
        for dep in ws.member_deps(lesson) {
            if dep != "gil-core" {
                broken.push(format!("lesson {lesson} depends on {dep} (only gil-core)"));
            }
        }
    }
    for dep in ws.member_deps("xtask") {
        if lessons.contains(&dep) {
            broken.push(format!(
                "xtask depends on the lesson {dep} (move what both need to gil-core)"
            ));
        }
    }
    let light = LIGHT.iter().copied().chain(lessons.iter().copied());
    for member in light {
        let tree = ws.normal_tree(member);
        for heavy in HEAVY {
            if let Some(path) = tree.get(heavy) {
                broken.push(format!(
                    "{member} compiles the heavy {heavy}: {}",
                    path.join(" -> ")
                ));
            }
        }
    }
    broken
}

#[test]
fn architecture_dependency_rules_hold() {
    let ws = workspace();
    assert!(
        ws.lessons().contains(&"refcounting"),
        "the lessons were not found: {:?}",
        ws.members
    );
    assert!(ws.normal_tree("xtask").contains_key("gil-core"));
    let broken = violations(&ws);
    assert!(
        broken.is_empty(),
        "ARCHITECTURE.md's dependency rules are broken:\n  {}",
        broken.join("\n  ")
    );
}

/// The statics gil-core may keep: each is about the process or one thread, never a lesson
/// run's settings or claims (those live in its `Cx`). (file under `crates/gil-core/src`, name)
const PROCESS_STATICS: [(&str, &str); 8] = [
    ("object.rs", "MARK"),     // per thread: the owner mark of biased counts
    ("process.rs", "RUNNING"), // children to kill when the process gets a signal
    ("process.rs", "RUNS"),    // numbers those children
    ("report.rs", "COLOUR"),   // whether stdout is a terminal, asked once
    ("waits.rs", "CURRENT"),   // per thread: its tag in the wait-for registry
    ("waits.rs", "REGISTRY"),  // who waits for what, across threads (deadlocks)
    ("waits.rs", "NEXT_SLOT"), // numbers its entries
    ("waits.rs", "STARTED"),   // the deadlock watchdog starts once
];

/// Every `static NAME` item in the Rust files under `dir`, as (path under `dir`, NAME).
fn statics(dir: &Path, under: &Path, found: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            statics(&path, under, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let file = path
                .strip_prefix(under)
                .expect("under")
                .display()
                .to_string();
            for line in text.lines() {
                let item = line.trim_start();
                let item = item.strip_prefix("pub ").unwrap_or(item);
                let item = item.strip_prefix("pub(crate) ").unwrap_or(item);
                if let Some(rest) = item.strip_prefix("static ") {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    found.push((file.clone(), name));
                }
            }
        }
    }
}

#[test]
fn gil_core_keeps_no_process_wide_session_or_claim_log() {
    let src = root().join("crates/gil-core/src");
    let mut found = Vec::new();
    statics(&src, &src, &mut found);
    let allowed: Vec<(String, String)> = PROCESS_STATICS
        .iter()
        .map(|(f, n)| ((*f).to_owned(), (*n).to_owned()))
        .collect();
    let unknown: Vec<String> = found
        .iter()
        .filter(|s| !allowed.contains(s))
        .map(|(file, name)| format!("{file}: static {name}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "gil-core has statics that are not about the process (a lesson run's state belongs \
         in its Cx; a new process-wide static belongs in PROCESS_STATICS with its reason):\n  {}",
        unknown.join("\n  ")
    );
    let gone: Vec<_> = allowed.iter().filter(|s| !found.contains(s)).collect();
    assert!(
        gone.is_empty(),
        "PROCESS_STATICS lists statics that are gone: {gone:?}"
    );
}

#[test]
fn architecture_md_states_the_rules_this_test_checks() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for rule in [
        "gil-core depends on no lesson",
        "never on a lesson",
        "xtask/src/tidy.rs",
        "nothing about a lesson run is process-wide",
    ] {
        assert!(
            map.contains(rule),
            "ARCHITECTURE.md no longer says {rule:?}"
        );
    }
}
