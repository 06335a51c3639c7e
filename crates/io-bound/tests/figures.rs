//! `--svg DIR` and `--trace FILE` as a learner uses them: every SVG file parses as XML and
//! draws something; the trace is Chrome Trace Event JSON that names every thread it shows.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

#[test]
fn svg_and_trace_files_are_valid_and_name_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let svg_dir = dir.path().join("figures");
    let trace = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_io-bound"))
        .args(["--simulated", "--cores", "2", "--svg"])
        .arg(&svg_dir)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut svgs: Vec<_> = std::fs::read_dir(&svg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    svgs.sort();
    assert!(!svgs.is_empty(), "--svg wrote no figure");
    for path in &svgs {
        assert_eq!(path.extension().unwrap(), "svg");
        let text = std::fs::read_to_string(path).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
        let shapes = root
            .descendants()
            .filter(|n| {
                ["rect", "polyline", "polygon", "circle", "line"].contains(&n.tag_name().name())
                    && n.attribute("class") != Some("background")
            })
            .count();
        assert!(shapes > 0, "{} draws nothing", path.display());
    }

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().expect("a traceEvents list");
    // Every (process, thread) that has a slice or an instant has a thread_name.
    let mut named = BTreeMap::new();
    let mut used = BTreeSet::new();
    for e in events {
        let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        match e["ph"].as_str().unwrap() {
            "M" if e["name"] == "thread_name" => {
                named.insert(key, e["args"]["name"].as_str().unwrap().to_owned());
            }
            "X" | "i" => {
                used.insert(key);
            }
            _ => {}
        }
    }
    assert!(!used.is_empty(), "the trace has no slices");
    for key in &used {
        assert!(named.contains_key(key), "thread {key:?} has no thread_name");
    }
    for state in ["holding the GIL", "waiting for the GIL", "detached"] {
        assert!(
            events.iter().any(|e| e["ph"] == "X" && e["name"] == state),
            "no '{state}' slice"
        );
    }
}
