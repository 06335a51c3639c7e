#![doc = include_str!("part5_free_threaded.md")]

use std::time::Duration;

use gil_core::Mode;
use gil_core::claim::{Claim, Unit, claim};
use gil_core::python;
use gil_core::report::{Table, indented, note};
use gil_core::sim::{Script, SimConfig, Step, simulate};
use serde::Deserialize;

use crate::Config;

/// The Python this part runs (in `py/free_threaded.py`).
pub const PYTHON: &str = "\
sysconfig.get_config_var(\"Py_GIL_DISABLED\")   # 1: a free-threaded build
sys._is_gil_enabled()          # is the GIL on right now? (3.13+)
import my_extension            # no Py_mod_gil slot: the GIL comes back on";

#[derive(Deserialize)]
struct Status {
    version: String,
    free_threaded: bool,
    has_is_gil_enabled: bool,
    rows: Vec<StatusRow>,
}

#[derive(Deserialize)]
struct StatusRow {
    how: String,
    status: i32,
    said: String,
}

#[derive(Deserialize)]
struct Modules {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    rows: Vec<ModuleRow>,
}

#[derive(Deserialize)]
struct ModuleRow {
    module: String,
    env: String,
    status: i32,
    warning: Option<String>,
    expected: u64,
    before: Option<bool>,
    after: Option<bool>,
    total: Option<u64>,
    said: Option<String>,
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

/// Run part 5.
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    crate::prose(TEXT);
    println!();
    if let Some(python) = &cfg.python {
        let status: Status =
            cfg.scripts
                .run(python, "free_threaded.py", &["status"], cfg.timeout())?;
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
        println!();
    }
    let gil = expected_speedup(Mode::Gil, cfg.model.cores, cfg.model.interval);
    let free = expected_speedup(Mode::FreeThreaded, cfg.model.cores, cfg.model.interval);
    note(&format!(
        "The model's view: two threads counting down run {gil:.2}x as fast as one with the \
         GIL and {free:.2}x free-threaded on {} idle cores (simulated).",
        cfg.model.cores
    ));
    let found = if cfg.simulated {
        None
    } else {
        python::find_free_threaded(cfg.python.as_ref())?
    };
    let Some(ft) = found else {
        println!();
        note(
            "skipped: no free-threaded Python found (--python PATH, or python3.14t or \
             python3.13t on PATH), so the extension-module demonstration does not run. To get \
             one: `pyenv install 3.14t` (or 3.13t); python.org's installers offer it as an \
             option; Debian/Ubuntu and Fedora package it as python3.13-nogil or \
             python3.13-freethreading; or build CPython with ./configure --disable-gil.",
        );
        return Ok(());
    };
    println!();
    let out = cfg.scripts.path("modules");
    std::fs::create_dir_all(&out)?;
    let out_text = out.to_string_lossy().into_owned();
    let modules: Modules = cfg.scripts.run(
        &ft,
        "free_threaded.py",
        &["modules", &out_text],
        cfg.timeout(),
    )?;
    if let Some(error) = modules.error {
        note(&format!(
            "skipped: the C module did not build for {}: {error}",
            ft.version
        ));
        return Ok(());
    }
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
    for row in &modules.rows {
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
    if let Some(warning) = modules.rows.iter().find_map(|r| r.warning.as_deref()) {
        indented(&format!("RuntimeWarning: {warning}"), "  ", "    ");
    }
    println!();
    let find = |module: &str, env: bool| {
        modules
            .rows
            .iter()
            .find(|r| r.module == module && r.env.is_empty() != env)
    };
    let turned_on = |row: Option<&ModuleRow>| {
        row.and_then(|r| r.after)
            .map_or(f64::NAN, |a| if a { 1.0 } else { 0.0 })
    };
    claim(Claim {
        figure: "GIL on after importing the module without the slot (1: yes)",
        unit: Unit::Count,
        measured: turned_on(find("undeclared", false)),
        expected: 1.0,
        low: 1.0,
        high: 1.0,
        text: "Importing a module that does not declare Py_mod_gil switched the GIL back on.",
    });
    claim(Claim {
        figure: "GIL on after importing the module with the slot",
        unit: Unit::Count,
        measured: turned_on(find("declared", false)),
        expected: 0.0,
        low: 0.0,
        high: 0.0,
        text: "Declaring Py_MOD_GIL_NOT_USED kept it off.",
    });
    claim(Claim {
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
    claim(Claim {
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
    Ok(())
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
