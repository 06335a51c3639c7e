//! The model's timelines as Chrome Trace Event JSON, the format Perfetto and `chrome://tracing`
//! open (and viztracer writes): one process per recorded timeline, one track per thread,
//! holding, waiting and detached as slices, drop requests and forced drops as instants.

use std::time::Duration;

use serde_json::{Value, json};

use crate::timeline::{LaneState, MarkKind, Timeline};

/// `{"traceEvents": [...]}` for `timelines`, each `(name, timeline)` one process in the viewer.
pub fn trace_json(timelines: &[(String, Timeline)]) -> Value {
    let mut events = Vec::new();
    for (p, (name, timeline)) in timelines.iter().enumerate() {
        let pid = p + 1;
        events.push(json!({
            "name": "process_name", "ph": "M", "pid": pid, "tid": 0,
            "args": { "name": name },
        }));
        events.push(json!({
            "name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
            "args": { "sort_index": pid },
        }));
        for (i, life) in timeline.threads().iter().enumerate() {
            let tid = life.thread;
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                "args": { "name": life.name },
            }));
            events.push(json!({
                "name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                "args": { "sort_index": i },
            }));
            for seg in timeline.segments(life) {
                let (name, cat) = match seg.state {
                    LaneState::Holding => ("holding the GIL", "gil"),
                    LaneState::Waiting => ("waiting for the GIL", "gil"),
                    LaneState::Detached => ("detached", "gil"),
                };
                events.push(json!({
                    "name": name, "cat": cat, "ph": "X", "pid": pid, "tid": tid,
                    "ts": micros(seg.start), "dur": micros(seg.end - seg.start),
                }));
            }
        }
        for mark in timeline.marks() {
            let name = match mark.kind {
                MarkKind::DropRequest => "drop request",
                MarkKind::ForcedDrop => "forced drop",
            };
            events.push(json!({
                "name": name, "cat": "gil", "ph": "i", "s": "t", "pid": pid,
                "tid": mark.thread, "ts": micros(mark.at),
            }));
        }
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ns" })
}

/// Trace time: microseconds, with nanoseconds as three decimals.
fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e3
}
