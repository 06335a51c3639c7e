//! Who held the GIL when, recorded from real runs and drawn as a `██░░` chart.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::fmt_duration;
use crate::protocol::{Phase, ThreadState};

/// One uninterrupted hold of the GIL by one thread (free-threaded: one stretch of running).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Thread-state id of the holder.
    pub thread: u64,
    /// When the hold began, from the start of the GIL's clock.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
}

impl Span {
    /// How long the hold lasted.
    pub fn len(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// True for a hold of zero length.
    pub fn is_empty(&self) -> bool {
        self.len().is_zero()
    }
}

/// When a thread attached and detached, so the chart can leave its row blank outside its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadLife {
    /// Thread-state id.
    pub thread: u64,
    /// Its name.
    pub name: String,
    /// When it asked for the GIL the first time.
    pub born: Duration,
    /// When its guard was dropped (None if it was still attached when recording stopped).
    pub died: Option<Duration>,
}

/// Something that happened at one instant on one thread's lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The thread it happened to.
    pub thread: u64,
    /// When, from the start of the GIL's clock.
    pub at: Duration,
    /// What happened.
    pub kind: MarkKind,
}

/// The instants a timeline marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A waiter's switch interval ran out and it set the drop request.
    DropRequest,
    /// The holder let go because of a drop request and waits for the switch (forced switching).
    ForcedDrop,
}

/// What a thread was doing during one stretch of its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaneState {
    /// Holding the GIL (free-threaded: running).
    Holding,
    /// Attached and wanting the GIL, but another thread holds it (or waiting for the switch).
    Waiting,
    /// Detached: the GIL released by the thread's own choice (`detach`, blocking I/O,
    /// native code, a model lock).
    Detached,
}

/// One stretch of one thread's life in one [`LaneState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// When it began.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
    /// What the thread did meanwhile.
    pub state: LaneState,
}

/// Watches one step of the GIL protocol for what a timeline records: the detached stretch the
/// step ended, the drop request it set, the forced drop it made. Both drivers (the live lock and
/// the simulator) wrap their [`Lock::step`](crate::protocol::Lock::step) calls in it while
/// recording, so the protocol itself stays free of recording.
pub(crate) struct StepWatch {
    detached_since: Option<Duration>,
    drop_requests: u64,
    forced_drops: u64,
}

impl StepWatch {
    /// Note `thread`'s state before the step.
    pub(crate) fn before(thread: &ThreadState) -> StepWatch {
        let detached_since = match thread.phase() {
            Phase::Away { detached_since } => detached_since,
            _ => None,
        };
        StepWatch {
            detached_since,
            drop_requests: thread.stats().drop_requests,
            forced_drops: thread.stats().forced_drops,
        }
    }

    /// After the step, at `at`: add what it did to `detached` and `marks`.
    pub(crate) fn after(
        self,
        thread: &ThreadState,
        at: Duration,
        detached: &mut Vec<Span>,
        marks: &mut Vec<Mark>,
    ) {
        let id = thread.id();
        if let Some(since) = self.detached_since
            && !matches!(thread.phase(), Phase::Away { .. })
        {
            detached.push(Span {
                thread: id,
                start: since,
                end: at,
            });
        }
        let stats = thread.stats();
        for (kind, before, now) in [
            (
                MarkKind::DropRequest,
                self.drop_requests,
                stats.drop_requests,
            ),
            (MarkKind::ForcedDrop, self.forced_drops, stats.forced_drops),
        ] {
            for _ in before..now {
                marks.push(Mark {
                    thread: id,
                    at,
                    kind,
                });
            }
        }
    }
}

/// A recording made between [`Gil::record_timeline`](crate::Gil::record_timeline) and
/// [`Gil::take_timeline`](crate::Gil::take_timeline), or by the simulator.
#[derive(Clone, Debug)]
pub struct Timeline {
    spans: Vec<Span>,
    lives: Vec<ThreadLife>,
    switch_interval: Duration,
    detached: Vec<Span>,
    marks: Vec<Mark>,
}

impl Timeline {
    pub(crate) fn new(
        mut spans: Vec<Span>,
        lives: Vec<ThreadLife>,
        switch_interval: Duration,
    ) -> Self {
        spans.sort_by_key(|s| s.start);
        Timeline {
            spans,
            lives,
            switch_interval,
            detached: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The same recording with the stretches each thread spent detached and the instants of
    /// drop requests and forced drops.
    pub(crate) fn with_detail(mut self, mut detached: Vec<Span>, mut marks: Vec<Mark>) -> Self {
        detached.sort_by_key(|s| s.start);
        marks.sort_by_key(|m| m.at);
        self.detached = detached;
        self.marks = marks;
        self
    }

    /// The switch interval in force when the recording ended.
    pub fn switch_interval(&self) -> Duration {
        self.switch_interval
    }

    /// Every stretch a thread spent detached (GIL released by its own choice), by start time.
    pub fn detached(&self) -> &[Span] {
        &self.detached
    }

    /// Drop requests and forced drops, in time order.
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// A thread's life from `born` to `died` (or the end of the recording) cut into holding,
    /// detached and — everything else — waiting, in time order.
    pub fn segments(&self, life: &ThreadLife) -> Vec<Segment> {
        let (_, end) = self.extent();
        let died = life.died.unwrap_or(end).max(life.born);
        let mut busy: Vec<Segment> = self
            .spans
            .iter()
            .filter(|s| s.thread == life.thread)
            .map(|s| (s, LaneState::Holding))
            .chain(
                self.detached
                    .iter()
                    .filter(|s| s.thread == life.thread)
                    .map(|s| (s, LaneState::Detached)),
            )
            .map(|(s, state)| Segment {
                start: s.start.max(life.born),
                end: s.end.min(died),
                state,
            })
            .filter(|s| s.end > s.start)
            .collect();
        busy.sort_by_key(|s| (s.start, s.state));
        let mut out = Vec::with_capacity(busy.len() * 2 + 1);
        let mut at = life.born;
        for seg in busy {
            if seg.start > at {
                out.push(Segment {
                    start: at,
                    end: seg.start,
                    state: LaneState::Waiting,
                });
            }
            let start = seg.start.max(at);
            if seg.end > start {
                out.push(Segment { start, ..seg });
                at = seg.end;
            }
        }
        if died > at {
            out.push(Segment {
                start: at,
                end: died,
                state: LaneState::Waiting,
            });
        }
        out
    }

    /// Every hold, ordered by start time.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The recorded threads, in the order they attached.
    pub fn threads(&self) -> &[ThreadLife] {
        &self.lives
    }

    /// From the first thread's arrival to the last hold's end.
    pub fn extent(&self) -> (Duration, Duration) {
        let start = self
            .lives
            .iter()
            .map(|l| l.born)
            .chain(self.spans.iter().map(|s| s.start))
            .min()
            .unwrap_or_default();
        let end = self.spans.iter().map(|s| s.end).max().unwrap_or(start);
        (start, end)
    }

    /// Hold lengths of holds that ended because another thread took over, i.e. how long the GIL
    /// stays with one thread while others wait. Holds by a thread alone are not counted.
    pub fn contended_holds(&self) -> Vec<Duration> {
        self.spans
            .windows(2)
            .filter(|pair| pair[0].thread != pair[1].thread)
            .map(|pair| pair[0].len())
            .collect()
    }

    /// Draw one row per thread over the whole recording, `cells` characters wide.
    pub fn render(&self, cells: usize) -> String {
        let (start, end) = self.extent();
        self.render_window(start, end, cells)
    }

    /// Draw one row per thread for the window `from..to`, `cells` characters wide.
    ///
    /// A cell is `█` when the thread held the GIL for at least half of the cell's time; else `▒`
    /// when it spent more of it waiting for the GIL than detached, `░` when more detached (in
    /// `detach`: sleeping, in I/O); blank before it started, `┤` just after it ended. A scale line underneath says how long one cell is and marks
    /// one switch interval, so the learner can read hold lengths off the chart.
    pub fn render_window(&self, from: Duration, to: Duration, cells: usize) -> String {
        let cells = cells.max(1);
        let width = to
            .saturating_sub(from)
            .max(Duration::from_nanos(cells as u64));
        let cell = width / cells as u32;
        let name_width = self.lives.iter().map(|l| l.name.len()).max().unwrap_or(2);
        let mut out = String::new();
        let mut finished = false;
        let mut used = String::new();
        for life in &self.lives {
            let mut held = vec![Duration::ZERO; cells];
            for span in self.spans.iter().filter(|s| s.thread == life.thread) {
                add_overlap(&mut held, from, cell, span.start, span.end);
            }
            let mut away = vec![Duration::ZERO; cells];
            for span in self.detached.iter().filter(|s| s.thread == life.thread) {
                add_overlap(&mut away, from, cell, span.start, span.end);
            }
            let died = life.died.unwrap_or(to.max(from + width));
            let mut ended = false;
            let row: String = (0..cells)
                .map(|i| {
                    let cell_start = from + cell * i as u32;
                    let cell_end = cell_start + cell;
                    if cell_end <= life.born {
                        ' '
                    } else if cell_start >= died {
                        // The first cell after a thread ended says so; the rest stay blank.
                        if ended || life.died.is_none() || died <= from {
                            ' '
                        } else {
                            ended = true;
                            FINISHED
                        }
                    } else if held[i] * 2 >= cell {
                        '█'
                    } else {
                        // Alive, not holding: waiting for the GIL, or detached from it.
                        let alive = cell_end.min(died).saturating_sub(cell_start.max(life.born));
                        let waiting = alive.saturating_sub(held[i] + away[i]);
                        if waiting > away[i] { '▒' } else { '░' }
                    }
                })
                .collect();
            finished |= ended;
            used.push_str(&row);
            let _ = writeln!(out, "{:>name_width$} {}", life.name, row.trim_end());
        }
        let (ruler, tick) = scale_line(cells, cell, self.switch_interval);
        let tick_meaning = if tick == self.switch_interval {
            format!("every switch interval ({})", fmt_duration(tick))
        } else {
            format!(
                "every {} (switch interval {})",
                fmt_duration(tick),
                fmt_duration(self.switch_interval)
            )
        };
        let _ = writeln!(out, "{:>name_width$} {ruler}", "");
        // The key names only the glyphs the chart uses.
        let key: Vec<String> = [
            ('█', "holds the GIL"),
            ('▒', "waits for it"),
            ('░', "detached"),
        ]
        .into_iter()
        .filter(|(glyph, _)| used.contains(*glyph))
        .map(|(glyph, meaning)| format!("{glyph} {meaning}"))
        .chain(finished.then(|| format!("{FINISHED} ended")))
        .collect();
        let _ = write!(
            out,
            "{:>name_width$} a cell is {}, '|' {tick_meaning}; {}",
            "",
            fmt_duration(cell),
            key.join(", "),
        );
        out
    }
}

/// Add the part of `start..end` that falls in each cell to that cell's total.
fn add_overlap(
    totals: &mut [Duration],
    from: Duration,
    cell: Duration,
    start: Duration,
    end: Duration,
) {
    if cell.is_zero() || end <= from {
        return;
    }
    let start = start.max(from);
    let first = ((start - from).as_nanos() / cell.as_nanos()) as usize;
    for (i, total) in totals.iter_mut().enumerate().skip(first) {
        let cell_start = from + cell * i as u32;
        let cell_end = cell_start + cell;
        if cell_start >= end {
            break;
        }
        *total += end.min(cell_end).saturating_sub(start.max(cell_start));
    }
}

/// A ruler: `|` in the cell where each multiple of the switch interval falls, `-` elsewhere,
/// and the time between two `|`. When a cell is longer than half the interval (the marks
/// would run together), a `|` every ten cells instead.
fn scale_line(cells: usize, cell: Duration, interval: Duration) -> (String, Duration) {
    let (cell_ns, interval_ns) = (cell.as_nanos().max(1), interval.as_nanos().max(1));
    let (tick_ns, tick) = if interval_ns >= 2 * cell_ns {
        (interval_ns, interval)
    } else {
        (10 * cell_ns, cell * 10)
    };
    // Cell i holds a mark when a multiple of the tick falls in [i * cell, (i + 1) * cell).
    let ruler = (0..cells as u128)
        .map(|i| {
            let (start, end) = (i * cell_ns, (i + 1) * cell_ns);
            if start.div_ceil(tick_ns) * tick_ns < end {
                '|'
            } else {
                '-'
            }
        })
        .collect();
    (ruler, tick)
}

/// Drawn in the first cell after a thread ended, so a short row does not read as a gap.
pub const FINISHED: char = '┤';

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn two_threads_alternating() -> Timeline {
        let lives = vec![
            ThreadLife {
                thread: 1,
                name: "T1".into(),
                born: ms(0),
                died: Some(ms(20)),
            },
            ThreadLife {
                thread: 2,
                name: "T2".into(),
                born: ms(0),
                died: Some(ms(20)),
            },
        ];
        let spans = vec![
            Span {
                thread: 1,
                start: ms(0),
                end: ms(5),
            },
            Span {
                thread: 2,
                start: ms(5),
                end: ms(10),
            },
            Span {
                thread: 1,
                start: ms(10),
                end: ms(15),
            },
            Span {
                thread: 2,
                start: ms(15),
                end: ms(20),
            },
        ];
        Timeline::new(spans, lives, ms(5))
    }

    #[test]
    fn alternating_holds_draw_as_complementary_rows() {
        let chart = two_threads_alternating().render(8);
        let rows: Vec<&str> = chart.lines().collect();
        assert_eq!(rows[0], "T1 ██▒▒██▒▒");
        assert_eq!(rows[1], "T2 ▒▒██▒▒██");
        assert_eq!(rows[2], "   |-|-|-|-");
    }

    #[test]
    fn cells_longer_than_the_interval_get_a_tick_every_ten_cells() {
        let chart = two_threads_alternating().render_window(ms(0), ms(200), 20);
        let rows: Vec<&str> = chart.lines().collect();
        assert_eq!(rows[2], "   |---------|---------");
        assert!(
            rows[3].contains("'|' every 100.00 ms (switch interval 5.00 ms)"),
            "{}",
            rows[3]
        );
    }

    #[test]
    fn a_row_that_ends_inside_the_window_ends_with_a_mark() {
        let chart = two_threads_alternating().render_window(ms(0), ms(40), 8);
        let rows: Vec<&str> = chart.lines().collect();
        assert_eq!(rows[0], "T1 █▒█▒┤");
        assert_eq!(rows[1], "T2 ▒█▒█┤");
        assert!(rows[3].contains("┤ ended"), "{}", rows[3]);
        let whole = two_threads_alternating().render(8);
        assert!(
            !whole.contains(FINISHED),
            "no mark when the window ends with the thread"
        );
    }

    #[test]
    fn waiting_and_detached_draw_differently() {
        let mut timeline = two_threads_alternating();
        // T1 detaches (sleeps, say) between its holds instead of waiting for the GIL.
        timeline.detached.push(Span {
            thread: 1,
            start: ms(5),
            end: ms(10),
        });
        let chart = timeline.render(8);
        let rows: Vec<&str> = chart.lines().collect();
        assert_eq!(rows[0], "T1 ██░░██▒▒");
        assert_eq!(rows[1], "T2 ▒▒██▒▒██");
        assert!(
            rows[3].contains("▒ waits for it, ░ detached"),
            "{}",
            rows[3]
        );
        // The key names only the glyphs a chart uses.
        let plain = two_threads_alternating().render(8);
        assert!(!plain.contains("detached"), "{plain}");
    }

    #[test]
    fn the_ruler_marks_the_cell_where_each_interval_falls() {
        // 2 ms cells, a 5 ms interval: marks at 0, 5, 10 and 15 ms, not in every cell.
        let chart = two_threads_alternating().render_window(ms(0), ms(16), 8);
        assert_eq!(chart.lines().nth(2), Some("   |-|--|-|"));
    }

    #[test]
    fn contended_holds_are_the_lengths_before_each_hand_off() {
        assert_eq!(two_threads_alternating().contended_holds(), vec![ms(5); 3]);
    }

    #[test]
    fn rows_are_blank_outside_a_threads_life() {
        let lives = vec![ThreadLife {
            thread: 1,
            name: "A".into(),
            born: ms(10),
            died: Some(ms(20)),
        }];
        let spans = vec![Span {
            thread: 1,
            start: ms(10),
            end: ms(20),
        }];
        let chart = Timeline::new(spans, lives, ms(5)).render_window(ms(0), ms(20), 4);
        assert_eq!(chart.lines().next(), Some("A   ██"));
    }
}
