//! Plausible wrong answers (`solutions/wrong/NAME/*.rs`): reading them, splicing their
//! functions into the exercise, and building them in a scratch package.

use std::collections::BTreeSet;

use super::*;

/// Phase 4: read the wrong answers of `exercises` and build them, each as the learner's part
/// above the harness of its exercise. Problems with them go to `problems`.
pub(super) fn wrong_answers<'a>(
    project: &Project,
    exercises: &[&'a Exercise],
    problems: &mut Vec<String>,
) -> anyhow::Result<BTreeMap<&'a str, Vec<WrongAnswer>>> {
    let mut found = BTreeMap::new();
    for exercise in exercises {
        if exercise.python.is_some() {
            let answers = python_answers(project, exercise, problems);
            if !answers.is_empty() {
                found.insert(exercise.name.as_str(), answers);
            }
            continue;
        }
        let mut answers = Vec::new();
        for (dir, right) in [(WRONG, false), (OTHER, true)] {
            let dir = project.root.join(dir).join(&exercise.name);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect();
            files.sort();
            for file in files {
                match read_wrong_answer(project, exercise, &file, right) {
                    Ok(answer) => answers.push(answer),
                    Err(error) => problems.push(format!("{error:#}")),
                }
            }
        }
        if !answers.is_empty() {
            found.insert(exercise.name.as_str(), answers);
        }
    }
    let all: Vec<(&str, &WrongAnswer)> = found
        .iter()
        .filter(|(name, _)| {
            exercises
                .iter()
                .any(|e| e.name == **name && e.python.is_none())
        })
        .flat_map(|(name, answers)| answers.iter().map(move |a| (*name, a)))
        .collect();
    if all.is_empty() {
        return Ok(found);
    }
    eprintln!("building {} wrong answers (release)…", all.len());
    let solutions: BTreeMap<&str, String> = exercises
        .iter()
        .filter_map(|e| {
            let file = project.source(e, Side::Solution).ok()?;
            Some((e.name.as_str(), std::fs::read_to_string(file).ok()?))
        })
        .collect();
    let built: BTreeMap<&str, bool> = exercises
        .iter()
        .map(|e| (e.name.as_str(), e.launch().is_built()))
        .collect();
    let mut sources = Vec::new();
    for (name, answer) in &all {
        let Some(solution) = solutions.get(name) else {
            problems.push(format!("{}: its solution cannot be read", answer.shown));
            continue;
        };
        // A course without fences: the whole file is the learner's.
        let (mine, harness) = split_at_fence(solution).unwrap_or((solution, ""));
        let text = match replace_functions(mine, &answer.functions) {
            Ok(learner_part) => format!(
                "//! The solution of {name} with the functions of {} in place of its own.\n{learner_part}{harness}",
                answer.shown
            ),
            Err(error) => {
                problems.push(format!("{}: {error}", answer.shown));
                continue;
            }
        };
        if built.get(name) == Some(&true) {
            sources.push((answer.bin.clone(), text));
            continue;
        }
        // A `run` command takes the learner's file itself: hand it the wrong answer's.
        let file = wrong_file(project, &answer.bin);
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(anyhow::Error::from)
            .and_then(|()| write_if_changed(&file, text.as_bytes()));
        if let Err(error) = written {
            problems.push(format!("{}: {error:#}", answer.shown));
        }
    }
    // Only `run` exercises' answers (files, not binaries): nothing to build.
    if !sources.is_empty()
        && let Err(error) = build_scratch_package(project, &sources)
    {
        problems.push(format!("the wrong answers do not build: {error:#}"));
        return Ok(BTreeMap::new());
    }
    Ok(found)
}

/// The wrong (and other right) answers to a Python exercise: whole files, `NAME/KIND.py` (or
/// `.c`), run as they are. Their header is the same as a Rust one's, in the file's comments
/// (`# Wrong:` / `# Fails:` / `# Style:`, or `//` in C).
fn python_answers(
    project: &Project,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) -> Vec<WrongAnswer> {
    let mut answers = Vec::new();
    for (dir, right) in [(WRONG, false), (OTHER, true)] {
        let dir = project.root.join(dir).join(&exercise.name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "py" || e == "c"))
            .collect();
        files.sort();
        for file in files {
            match read_python_answer(project, exercise, &file, right) {
                Ok(answer) => answers.push(answer),
                Err(error) => problems.push(format!("{error:#}")),
            }
        }
    }
    answers
}

fn read_python_answer(
    project: &Project,
    exercise: &Exercise,
    file: &Path,
    right: bool,
) -> anyhow::Result<WrongAnswer> {
    let shown = project.shown(file);
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| {
                let line = line.trim_start_matches(['#', '/', ' ']);
                line.strip_prefix(key)
            })
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("{shown} has no `{key}` line"))
    };
    let (what, fails) = if right {
        (field("Style:")?, None)
    } else {
        let fails: Vec<String> = field("Fails:")?
            .split('|')
            .map(|f| f.trim().to_owned())
            .collect();
        for label in &fails {
            let known = exercise.checks.iter().any(|c| &c.label == label)
                || [Kind::Timeout, Kind::Panic, Kind::NonZeroExit]
                    .iter()
                    .any(|k| k.name() == label);
            anyhow::ensure!(
                known,
                "{shown}: `Fails: {label}` names no check of {} and no verdict",
                exercise.name
            );
        }
        (field("Wrong:")?, Some(fails))
    };
    Ok(WrongAnswer {
        // A Python answer is run as it is: its "binary" is the file itself.
        bin: file.to_string_lossy().into_owned(),
        shown,
        what,
        fails,
        functions: String::new(),
    })
}

/// Read `solutions/wrong/NAME/KIND.rs`: a `// Wrong:` line saying what it gets wrong, a
/// `// Fails:` line naming the check (label) or verdict it must get, then the functions that
/// replace the solution's. A `right` answer (`solutions/other/NAME/STYLE.rs`) has a `// Style:`
/// line instead of the two.
pub(super) fn read_wrong_answer(
    project: &Project,
    exercise: &Exercise,
    file: &Path,
    right: bool,
) -> anyhow::Result<WrongAnswer> {
    let shown = project.shown(file);
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("{shown} has no `{key}` line"))
    };
    let (what, fails) = if right {
        (field("// Style:")?, None)
    } else {
        let fails = field("// Fails:")?;
        let fails = fails.split('|').map(|f| f.trim().to_owned()).collect();
        (field("// Wrong:")?, Some(fails))
    };
    for fails in fails.iter().flatten() {
        let known = exercise.checks.iter().any(|c| &c.label == fails)
            || [
                Kind::Timeout,
                Kind::Deadlock,
                Kind::Panic,
                Kind::NonZeroExit,
            ]
            .iter()
            .any(|k| k.name() == fails);
        anyhow::ensure!(
            known,
            "{shown}: `// Fails: {fails}` names no check of {} and no verdict",
            exercise.name
        );
    }
    anyhow::ensure!(
        !text.contains(FENCE) && !functions(&text).is_empty(),
        "{shown}: a wrong answer is functions that replace the solution's, nothing else"
    );
    let kind = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(WrongAnswer {
        bin: format!(
            "{}--{}{kind}",
            exercise.name,
            if right { "right-" } else { "" }
        ),
        shown,
        what,
        fails,
        functions: text,
    })
}

/// `learner_part` with each function of `replacements` in place of its namesake.
pub(super) fn replace_functions(learner_part: &str, replacements: &str) -> Result<String, String> {
    let mut text = learner_part.to_owned();
    for (name, range) in functions(replacements) {
        let Some((_, old)) = functions(&text).into_iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "the solution has no top-level `fn {name}` to replace"
            ));
        };
        text.replace_range(old, &replacements[range]);
    }
    Ok(text)
}

/// Build `sources` (binary name, text) as binaries of a scratch package that has the
/// solutions' dependencies, the workspace's profiles and its lock file, in the shared target
/// directory (so nothing is compiled twice), and keep a copy of each program.
pub(super) fn build_scratch_package(
    project: &Project,
    sources: &[(String, String)],
) -> anyhow::Result<()> {
    let dir = project.target.join("wrong-answers");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    // Files of answers no longer kept go; the others are rewritten only when their text
    // changed, since cargo rebuilds a binary whose file is newer than its last build.
    for entry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let path = entry.path();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        if !sources.iter().any(|(bin, _)| Some(bin) == stem.as_ref()) {
            let _ = std::fs::remove_file(&path);
        }
    }
    let read = |path: PathBuf| -> anyhow::Result<toml::Table> {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        text.parse()
            .with_context(|| format!("cannot parse {}", path.display()))
    };
    let workspace = read(project.root.join("Cargo.toml"))?;
    let solutions = read(project.root.join("solutions/Cargo.toml"))?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table);
    // The course's path packages are reached from the scratch package through links named as
    // their first folder (`crates` -> the course's `crates`), so `crates/gil-core` is the same
    // path relative to the workspace root here as in the course. Cargo names a path package's
    // build by that relative path: with it, the gil-core the course built is used, not built
    // again (18 s of CPU on a clean clone). Without links, absolute paths, and a second build.
    let linked = link_path_folders(&dir, &project.root, shared);
    let mut dependencies = toml::Table::new();
    for (name, spec) in solutions
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        let inherits = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        let (mut spec, base) = match shared.and_then(|s| s.get(name)).filter(|_| inherits) {
            Some(shared) => (shared.clone(), project.root.clone()),
            None => (spec.clone(), project.root.join("solutions")),
        };
        if let Some(table) = spec.as_table_mut()
            && let Some(path) = table.get("path").and_then(toml::Value::as_str)
            && !(linked && base == project.root && Path::new(path).is_relative())
        {
            let absolute = base.join(path).display().to_string();
            table.insert("path".into(), absolute.into());
        }
        dependencies.insert(name.clone(), spec);
    }
    let edition = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("edition"))
        .or_else(|| solutions.get("package").and_then(|p| p.get("edition")))
        .cloned()
        .unwrap_or_else(|| "2024".into());
    let mut manifest = toml::Table::new();
    manifest.insert(
        "package".into(),
        toml::toml! { name = "wrong-answers" version = "0.0.0" publish = false autobins = false }
            .into(),
    );
    if let Some(package) = manifest
        .get_mut("package")
        .and_then(toml::Value::as_table_mut)
    {
        package.insert("edition".into(), edition);
    }
    // A linked path package is a member of this workspace, so it inherits from it: the course
    // workspace's package fields, dependencies and lints, copied as they are.
    let mut scratch_workspace = toml::Table::new();
    if linked && let Some(course) = workspace.get("workspace").and_then(toml::Value::as_table) {
        for key in ["package", "dependencies", "lints"] {
            if let Some(value) = course.get(key) {
                scratch_workspace.insert(key.into(), value.clone());
            }
        }
    }
    manifest.insert("workspace".into(), scratch_workspace.into());
    manifest.insert("dependencies".into(), dependencies.into());
    if let Some(profile) = workspace.get("profile") {
        manifest.insert("profile".into(), wrong_answers_profile(profile.clone()));
    }
    let bins: Vec<toml::Value> = sources
        .iter()
        .map(|(bin, _)| {
            let mut table = toml::Table::new();
            table.insert("name".into(), bin.clone().into());
            table.insert("path".into(), format!("src/{bin}.rs").into());
            table.into()
        })
        .collect();
    manifest.insert("bin".into(), bins.into());
    write_if_changed(
        &dir.join("Cargo.toml"),
        toml::to_string(&manifest)?.as_bytes(),
    )?;
    // The workspace's lock file: the same versions, so the same compiled dependencies.
    if let Ok(lock) = std::fs::read(project.root.join("Cargo.lock")) {
        write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    }
    for (bin, text) in sources {
        write_if_changed(&src.join(format!("{bin}.rs")), text.as_bytes())?;
    }
    let _lock = project.lock()?;
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--quiet", "--color", "never"])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &project.cargo_target)
        .current_dir(&project.root)
        .output()
        .context("cannot run cargo")?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    for (bin, _) in sources {
        project.keep(&project.built(bin), &wrong_program(project, bin))?;
    }
    Ok(())
}

/// Links in `dir` to the first folder of each relative path in the course's
/// `[workspace.dependencies]` (`crates/gil-core` -> `dir/crates`); false, leaving absolute paths
/// in use, where a link cannot be made.
fn link_path_folders(dir: &Path, root: &Path, shared: Option<&toml::Table>) -> bool {
    let folders: BTreeSet<&str> = shared
        .into_iter()
        .flatten()
        .filter_map(|(_, spec)| spec.get("path")?.as_str())
        .filter(|path| Path::new(path).is_relative())
        .filter_map(|path| path.split('/').next())
        .collect();
    folders.iter().all(|folder| {
        // Only a plain folder name that is not one of the scratch package's own.
        let plain = matches!(
            Path::new(folder).components().next(),
            Some(std::path::Component::Normal(_))
        );
        if !plain || ["src", "target", "files"].contains(folder) {
            return false;
        }
        let (link, target) = (dir.join(folder), root.join(folder));
        if std::fs::read_link(&link).is_ok_and(|to| to == target) {
            return true;
        }
        let _ = std::fs::remove_file(&link);
        symlink(&target, &link).is_ok()
    })
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The workspace's `[profile]` table for the scratch package: the wrong answers are built as
/// the solutions are (`profile.*.package.solutions` applies to `wrong-answers`); overrides for
/// the two course packages, which the scratch package does not have, are left out.
pub(super) fn wrong_answers_profile(mut profile: toml::Value) -> toml::Value {
    for (_, settings) in profile.as_table_mut().into_iter().flatten() {
        let Some(packages) = settings
            .get_mut("package")
            .and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        packages.remove("exercises");
        if let Some(solutions) = packages.remove("solutions") {
            packages.insert("wrong-answers".into(), solutions);
        }
    }
    profile
}

/// Write `bytes` to `path` unless it holds them already (an unchanged file keeps its time, so
/// cargo does not build it again).
fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The grader's copy of the wrong answer `bin`.
pub(super) fn wrong_program(project: &Project, bin: &str) -> PathBuf {
    project.target.join("programs/wrong-answers").join(bin)
}

/// The source file of the wrong answer `bin` to an exercise with a `run` command.
pub(super) fn wrong_file(project: &Project, bin: &str) -> PathBuf {
    project
        .target
        .join("wrong-answers/files")
        .join(format!("{bin}.rs"))
}
