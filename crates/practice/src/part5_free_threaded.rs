#![doc = include_str!("part5_free_threaded.md")]

use std::time::Duration;

use anyhow::Context as _;
use gil_core::Mode;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run as PartRun};
use gil_core::python::{self, Python};
use gil_core::report::{Table, indented, note};
use gil_core::sim::{Script, SimConfig, Step, simulate};
use serde::Deserialize;

use crate::Config;

/// The Python this part runs (in `py/free_threaded.py`).
pub const PYTHON: &str = "\
sysconfig.get_config_var(\"Py_GIL_DISABLED\")   # 1: a free-threaded build
sys._is_gil_enabled()          # is the GIL on right now? (3.13+)
import my_extension            # no Py_mod_gil slot: the GIL comes back on";

/// Which build the learner's Python is, and whether its GIL is on when started each way.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Status {
    /// `3.13.1`.
    pub version: String,
    /// A free-threaded build.
    pub free_threaded: bool,
    /// Whether `sys._is_gil_enabled()` exists (3.13+).
    pub has_is_gil_enabled: bool,
    /// One per way of starting it.
    pub rows: Vec<StatusRow>,
}

/// One way of starting the interpreter, and what `sys._is_gil_enabled()` said.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StatusRow {
    /// How it was started, e.g. `PYTHON_GIL=0`.
    pub how: String,
    /// Its exit status.
    pub status: i32,
    /// What it printed (or the error).
    pub said: String,
}

#[derive(Deserialize)]
struct Modules {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    rows: Vec<ModuleRow>,
}

/// One import of the C module in a fresh free-threaded interpreter.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ModuleRow {
    /// `undeclared` (no slot), `declared` (the slot, no lock) or `ready` (both).
    pub module: String,
    /// The environment it ran with ("" or `PYTHON_GIL=0`).
    pub env: String,
    /// Its exit status.
    pub status: i32,
    /// The `RuntimeWarning` the import gave, if any.
    pub warning: Option<String>,
    /// Updates the two threads made.
    pub expected: u64,
    /// Whether the GIL was on before the import.
    pub before: Option<bool>,
    /// Whether it was on after.
    pub after: Option<bool>,
    /// The shared counter at the end.
    pub total: Option<u64>,
    /// What it printed, when it failed.
    pub said: Option<String>,
}

/// The extension-module demonstration, as far as it went.
#[derive(Clone, Debug)]
pub enum Demo {
    /// No free-threaded Python was found (or the run is simulated).
    NoFreeThreaded,
    /// The C module did not build for `python`.
    NotBuilt {
        /// The free-threaded Python's version.
        version: String,
        /// Why.
        error: String,
    },
    /// It ran on `python`.
    Ran {
        /// The free-threaded Python.
        python: Python,
        /// One row per import.
        rows: Vec<ModuleRow>,
    },
}

/// What part 5 shows.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The learner's Python's build and GIL (`None` without one).
    pub status: Option<Status>,
    /// The simulator's speedup of two counting threads over one, with the GIL.
    pub gil_speedup: f64,
    /// The same without a GIL.
    pub free_speedup: f64,
    /// The C module on a free-threaded Python.
    pub demo: Demo,
}

/// The simulator's speedup of two threads counting down against one, in `mode`.
pub fn expected_speedup(mode: Mode, cores: usize, interval: Duration) -> f64 {
    let work = Duration::from_millis(200);
    let cfg = SimConfig::new(mode, interval, cores);
    let one = simulate(&cfg, vec![Script::new("T1", vec![Step::Bytecode(work)])]).elapsed;
    let half = || vec![Step::Bytecode(work / 2)];
    let two = simulate(
        &cfg,
        vec![Script::new("T1", half()), Script::new("T2", half())],
    )
    .elapsed;
    one.as_secs_f64() / two.as_secs_f64()
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part5_free_threaded.md");

/// Part 5 in the lesson's table.
pub struct FreeThreaded;

impl Part<Config> for FreeThreaded {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "free-threaded Python in practice"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        // What it states is what an import did, not a speed: a busy machine changes nothing.
        0
    }

    fn live(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let mut figures = self.simulate(cx, cfg)?;
        if let Some(python) = &cfg.python {
            figures.status =
                Some(
                    cfg.scripts
                        .run(python, "free_threaded.py", &["status"], cfg.timeout())?,
                );
        }
        if let Some(ft) = python::find_free_threaded(cfg.python.as_ref())? {
            figures.demo = demo(cfg, ft)?;
        }
        Ok(figures)
    }

    fn simulate(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let (cores, interval) = (cfg.model.cores, cfg.model.interval);
        Ok(Figures {
            status: None,
            gil_speedup: expected_speedup(Mode::Gil, cores, interval),
            free_speedup: expected_speedup(Mode::FreeThreaded, cores, interval),
            demo: Demo::NoFreeThreaded,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        if let Some(status) = &f.status {
            show_status(status);
            println!();
        }
        note(&format!(
            "The model's view: two threads counting down run {:.2}x as fast as one with the \
             GIL and {:.2}x free-threaded on {} idle cores (simulated).",
            f.gil_speedup, f.free_speedup, cfg.model.cores
        ));
        println!();
        match &f.demo {
            Demo::NoFreeThreaded => note(
                "skipped: no free-threaded Python found (--python PATH, or python3.14t or \
                 python3.13t on PATH), so the extension-module demonstration does not run. To \
                 get one: `pyenv install 3.14t` (or 3.13t); python.org's installers offer it \
                 as an option; Debian/Ubuntu and Fedora package it as python3.13-nogil or \
                 python3.13-freethreading; or build CPython with ./configure --disable-gil.",
            ),
            Demo::NotBuilt { version, error } => note(&format!(
                "skipped: the C module did not build for {version}: {error}"
            )),
            Demo::Ran { python, rows } => show_modules(cx, python, rows),
        }
        Ok(())
    }
}

/// Build the C module for the free-threaded `ft` and import it every way.
fn demo(cfg: &Config, ft: Python) -> anyhow::Result<Demo> {
    let out = cfg.scripts.path("modules");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot make {}", out.display()))?;
    let out_text = out.to_string_lossy().into_owned();
    let modules: Modules = cfg.scripts.run(
        &ft,
        "free_threaded.py",
        &["modules", &out_text],
        cfg.timeout(),
    )?;
    Ok(match modules.error {
        Some(error) => Demo::NotBuilt {
            version: ft.version,
            error,
        },
        None => Demo::Ran {
            python: ft,
            rows: modules.rows,
        },
    })
}

fn show_status(status: &Status) {
    indented(
        &format!(
            "Python {}: {} build; sys._is_gil_enabled() {}.",
            status.version,
            if status.free_threaded {
                "a free-threaded"
            } else {
                "a default (GIL)"
            },
            if status.has_is_gil_enabled {
                "exists (3.13+)"
            } else {
                "does not exist (before 3.13)"
            }
        ),
        "  ",
        "  ",
    );
    let mut table = Table::new(&["started with", "GIL enabled?"]);
    for row in &status.rows {
        let said = match (row.status, row.said.as_str()) {
            (0, "None") => "no sys._is_gil_enabled".to_owned(),
            (0, said) => said.to_owned(),
            (_, said) => format!("refused: {}", short(last_part(said))),
        };
        table.push([row.how.clone(), said]);
    }
    table.print();
}

fn show_modules(cx: &mut Cx, ft: &Python, rows: &[ModuleRow]) {
    indented(
        &format!(
            "On Python {} ({}): gilmod.c compiled with cc against its own headers \
             (sysconfig include, EXT_SUFFIX {}), imported in a fresh interpreter; then two \
             threads call bump(n) on the module's one shared counter.",
            ft.version,
            ft.exe.display(),
            ft.ext_suffix
        ),
        "  ",
        "  ",
    );
    println!();
    let mut table = Table::new(&["module", "GIL before→after", "counter kept"]);
    for row in rows {
        let name = match (row.module.as_str(), row.env.is_empty()) {
            ("undeclared", true) => "no slot".to_owned(),
            ("declared", _) => "slot, no lock".to_owned(),
            ("ready", _) => "slot + own lock".to_owned(),
            (_, false) => format!("no slot, {}", row.env),
            (other, _) => other.to_owned(),
        };
        let gil = match (row.before, row.after) {
            (Some(b), Some(a)) => format!("{}→{}", py_bool(b), py_bool(a)),
            _ => format!(
                "failed ({}): {}",
                row.status,
                short(row.said.as_deref().unwrap_or(""))
            ),
        };
        let kept = row.total.map_or("-".into(), |t| {
            crate::percent(t as f64 / row.expected.max(1) as f64)
        });
        table.push([name, gil, kept]);
    }
    table.print();
    if let Some(warning) = rows.iter().find_map(|r| r.warning.as_deref()) {
        indented(&format!("RuntimeWarning: {warning}"), "  ", "    ");
    }
    println!();
    let find = |module: &str, env: bool| {
        rows.iter()
            .find(|r| r.module == module && r.env.is_empty() != env)
    };
    let turned_on = |row: Option<&ModuleRow>| {
        row.and_then(|r| r.after)
            .map_or(f64::NAN, |a| if a { 1.0 } else { 0.0 })
    };
    cx.claim(Claim {
        figure: "GIL on after importing the module without the slot (1: yes)",
        unit: Unit::Count,
        measured: turned_on(find("undeclared", false)),
        expected: 1.0,
        low: 1.0,
        high: 1.0,
        text: "Importing a module that does not declare Py_mod_gil switched the GIL back on.",
    });
    cx.claim(Claim {
        figure: "GIL on after importing the module with the slot",
        unit: Unit::Count,
        measured: turned_on(find("declared", false)),
        expected: 0.0,
        low: 0.0,
        high: 0.0,
        text: "Declaring Py_MOD_GIL_NOT_USED kept it off.",
    });
    cx.claim(Claim {
        figure: "GIL on after the slot-less import under PYTHON_GIL=0",
        unit: Unit::Count,
        measured: turned_on(find("undeclared", true)),
        expected: 0.0,
        low: 0.0,
        high: 0.0,
        text: "PYTHON_GIL=0 kept it off too — at the module's own risk.",
    });
    let kept = |row: Option<&ModuleRow>| {
        row.and_then(|r| Some(r.total? as f64 / r.expected as f64 * 100.0))
            .unwrap_or(f64::NAN)
    };
    cx.claim(Claim {
        figure: "counter kept, slot and its own lock",
        unit: Unit::Percent,
        measured: kept(find("ready", false)),
        expected: 100.0,
        low: 100.0,
        high: 100.0,
        text: "With its own lock around the shared counter, no update was lost.",
    });
    let unlocked = kept(find("declared", false));
    if unlocked < 100.0 {
        indented(
            &format!(
                "Without that lock the declared module kept only {unlocked:.1} % of the \
                 updates: the slot is a promise that the module's state is safe without the \
                 GIL, not a way to make it so."
            ),
            "  ",
            "    ",
        );
    }
    println!();
    if ft.major_minor().is_some_and(|v| v >= (3, 14)) {
        note(&format!(
            "This Python is {}, which PyO3 builds for: `PYO3_PYTHON={} cargo xtask \
             real-gil` builds the course's PyO3 module, whose #[pymodule] declares the slot \
             (gil_used = false, PyO3's default since 0.28), and runs it here.",
            ft.version,
            ft.exe.display()
        ));
        println!();
    }
    note(
        "Ready means: every piece of state the module shares between calls (globals, caches, \
         static buffers) is guarded by a lock of its own (PyMutex, or atomics), then the \
         slot is declared. PyO3 writes the slot for you: #[pymodule(gil_used = false)], which \
         builds for free-threaded Pythons from 3.14.",
    );
}

fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// What follows the last ": " of an error line ("Fatal Python error: where: what").
fn last_part(text: &str) -> &str {
    text.rsplit(": ").next().unwrap_or(text)
}

/// The first 60 characters of `text`.
fn short(text: &str) -> String {
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}
