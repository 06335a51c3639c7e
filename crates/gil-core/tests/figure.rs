//! The figure renderer and the trace writer: every SVG parses as XML and draws something, the
//! trace names every thread, and the same simulation gives the same bytes.

use std::time::Duration;

use gil_core::figure::{Figures, LineChart, Scale, Series, StepLanes, TimelineChart, trace_json};
use gil_core::sim::{Script, SimConfig, SimRun, Step, simulate};
use gil_core::{Gil, LaneState, MarkKind, Mode};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Two CPU-bound threads and one that does I/O: holding, waiting, detached and marks.
fn mixed_run() -> SimRun {
    let cfg = SimConfig::new(Mode::Gil, ms(5), 2);
    simulate(
        &cfg,
        vec![
            Script::new("cpu1", vec![Step::Bytecode(ms(30))]),
            Script::new("cpu2", vec![Step::Bytecode(ms(20))]),
            Script::new(
                "io",
                vec![Step::Repeat(
                    3,
                    vec![Step::Bytecode(ms(1)), Step::Blocking(ms(4))],
                )],
            ),
        ],
    )
}

fn svg_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    files.sort();
    files
}

/// Parse `text` as XML and check it is an SVG with a size, a title, and at least one shape
/// of non-zero area besides the white background.
fn assert_valid_svg(text: &str, what: &str) {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{what}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    for attr in ["width", "height"] {
        let v: f64 = root.attribute(attr).unwrap().parse().unwrap();
        assert!(v > 0.0, "{what}: {attr} {v}");
    }
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or("");
    assert!(!title.is_empty(), "{what}: no title");
    let drawn = root
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .skip(1)
        .filter(|n| {
            let w: f64 = n.attribute("width").unwrap().parse().unwrap();
            let h: f64 = n.attribute("height").unwrap().parse().unwrap();
            w > 0.0 && h > 0.0
        })
        .count()
        + root
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count();
    assert!(drawn > 0, "{what}: draws nothing");
}

#[test]
fn every_figure_kind_writes_valid_svg_files() {
    let run = mixed_run();
    let dir = tempfile::tempdir().unwrap();
    let figures = Figures::new(Some(dir.path().join("figs")), None).unwrap();
    let chart = TimelineChart::new("mixed", "Two CPU threads and one I/O thread", &run.timeline)
        .caption("simulated, 2 idle cores")
        .zoom(ms(4), ms(12));
    figures.show(1, &chart).unwrap();
    figures.show(1, &chart).unwrap();
    let sweep = LineChart::new(
        "sweep",
        "Switches per second",
        "switch interval (ms)",
        "switches/s",
    )
    .x_scale(Scale::Log10)
    .series(Series::new(
        "2 threads",
        [(0.1, 9000.0), (1.0, 950.0), (10.0, 99.0)],
    ));
    figures.show(2, &sweep).unwrap();
    let lanes = StepLanes::new("lost", "A lost update", &["T1", "T2"])
        .step(0, "LOAD_GLOBAL counter -> 41", true)
        .step(1, "LOAD_GLOBAL counter -> 41", true)
        .step(1, "STORE_GLOBAL counter = 42", true)
        .step(0, "STORE_GLOBAL counter = 42", true);
    figures.show(3, &lanes).unwrap();
    let (written, _) = figures.finish().unwrap();
    let files = svg_files(&dir.path().join("figs"));
    assert_eq!(files, {
        let mut w = written.clone();
        w.sort();
        w
    });
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "part1-mixed-2.svg",
            "part1-mixed.svg",
            "part2-sweep.svg",
            "part3-lost.svg"
        ]
    );
    for file in &files {
        assert_valid_svg(
            &std::fs::read_to_string(file).unwrap(),
            &file.display().to_string(),
        );
    }
}

#[test]
fn timelines_show_every_state_and_the_marks() {
    let timeline = mixed_run().timeline;
    let states: Vec<LaneState> = timeline
        .threads()
        .iter()
        .flat_map(|life| timeline.segments(life))
        .map(|s| s.state)
        .collect();
    for state in [LaneState::Holding, LaneState::Waiting, LaneState::Detached] {
        assert!(states.contains(&state), "no {state:?} segment");
    }
    let kinds: Vec<MarkKind> = timeline.marks().iter().map(|m| m.kind).collect();
    assert!(kinds.contains(&MarkKind::DropRequest));
    assert!(kinds.contains(&MarkKind::ForcedDrop));
    // Segments tile each life without gaps or overlaps.
    for life in timeline.threads() {
        let segs = timeline.segments(life);
        assert_eq!(segs.first().unwrap().start, life.born);
        assert_eq!(segs.last().unwrap().end, life.died.unwrap());
        for pair in segs.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{}", life.name);
        }
    }
}

#[test]
fn the_same_simulation_draws_the_same_bytes() {
    let draw = || {
        let run = mixed_run();
        let svg = TimelineChart::new("m", "M", &run.timeline)
            .zoom(ms(2), ms(9))
            .render();
        let trace = serde_json::to_string(&trace_json(&[("m".into(), run.timeline)])).unwrap();
        (svg, trace)
    };
    assert_eq!(draw(), draw());
}

#[test]
fn the_trace_names_every_thread_and_has_slices_and_instants() {
    let run = mixed_run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let figures = Figures::new(None, Some(path.clone())).unwrap();
    figures
        .show(1, &TimelineChart::new("m", "Mixed", &run.timeline))
        .unwrap();
    figures.finish().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let named: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["cpu1", "cpu2", "io"]);
    for name in ["holding the GIL", "waiting for the GIL", "detached"] {
        assert!(
            events.iter().any(|e| e["ph"] == "X" && e["name"] == name),
            "no {name} slice"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "drop request")
    );
    assert!(
        events
            .iter()
            .all(|e| e["ph"] != "X" || e["dur"].as_f64().unwrap() >= 0.0)
    );
}

#[test]
fn the_live_lock_records_detached_stretches_and_marks() {
    let gil = Gil::new();
    gil.set_switch_interval(Duration::from_micros(200)).unwrap();
    gil.record_timeline();
    gil.run_threads(2, |i, py| {
        if i == 0 {
            for _ in 0..3 {
                py.detach(|| std::thread::sleep(Duration::from_millis(1)));
            }
        } else {
            let until = std::time::Instant::now() + Duration::from_millis(20);
            while std::time::Instant::now() < until {
                py.check_point();
                std::hint::black_box(0);
            }
        }
    });
    let timeline = gil.take_timeline();
    // Which thread the timeline lists first depends on who started first: find the sleeper
    // by its stretches instead.
    let detached = timeline.detached();
    assert_eq!(detached.len(), 3, "three sleeps, three detached stretches");
    assert!(
        detached.iter().all(|s| s.thread == detached[0].thread),
        "only the sleeping thread detaches"
    );
    let stats = gil.stats();
    let requests: u64 = stats.threads.iter().map(|t| t.drop_requests).sum();
    let marked = timeline
        .marks()
        .iter()
        .filter(|m| m.kind == MarkKind::DropRequest)
        .count() as u64;
    assert_eq!(marked, requests);
}
