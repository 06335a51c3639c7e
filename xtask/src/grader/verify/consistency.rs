//! The course's files agree with each other: exercise and solution harnesses, the solutions'
//! `[[bin]]` list against the manifest, no orphan files, the same package settings.

use super::*;

/// Phase 1: the files agree — sources exist, checks vary, the two packages match, the
/// `[[bin]]` list of `solutions/Cargo.toml` matches the manifest, the harness below the fence
/// is the same in exercise and solution, and (for a full run) no file is left unlisted.
pub(super) fn files_agree(
    project: &Project,
    exercises: &[&Exercise],
    everything: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for exercise in exercises {
        for side in [Side::Exercise, Side::Solution] {
            if let Err(error) = project.source(exercise, side) {
                problems.push(format!("{}: {error:#}", exercise.name));
            }
        }
        if !exercise.varies() {
            problems.push(format!(
                "{}: no check depends on the parameters or on the solution's run, so printing a fixed answer could pass",
                exercise.name
            ));
        }
        if let Some(difference) = harness_differs(project, exercise) {
            problems.push(difference);
        }
    }
    problems.extend(packages_differ(project));
    problems.extend(solution_bins_differ(project));
    if everything {
        for side in [Side::Exercise, Side::Solution] {
            for stem in orphans(project, side) {
                problems.push(format!(
                    "{}/src/bin/{stem}.rs is not in the manifest",
                    side.package()
                ));
            }
        }
    }
    problems
}

/// File stems in `side/src/bin` that the manifest does not list.
pub(super) fn orphans(project: &Project, side: Side) -> Vec<String> {
    let dir = project.root.join(side.package()).join("src/bin");
    let mut stems: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            let is_bin =
                path.extension().is_some_and(|e| e == "rs") || path.join("main.rs").is_file();
            is_bin.then_some(stem)
        })
        .filter(|stem| !project.manifest.exercises.iter().any(|e| &e.name == stem))
        .collect();
    stems.sort();
    stems
}

/// The harness (from the fence on) must be the same in the exercise and its solution, or a
/// solution could pass checks the learner's harness does not print. `Some`: how they differ.
pub(super) fn harness_differs(project: &Project, exercise: &Exercise) -> Option<String> {
    if !exercise.launch().is_built() && exercise.python.is_none() {
        return None;
    }
    let text = |side| {
        project
            .source(exercise, side)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    let (mine, theirs) = (text(Side::Exercise)?, text(Side::Solution)?);
    match (split_at_fence(&mine), split_at_fence(&theirs)) {
        (Some((_, a)), Some((_, b))) if a == b => None,
        (Some(_), Some(_)) => Some(format!(
            "{}: the harness below the fence differs between exercises/ and solutions/",
            exercise.name
        )),
        // A course may have no fences at all; one side with a fence and one without may not.
        (None, None) => None,
        _ => Some(format!(
            "{}: the exercise or its solution has no fence line (\"{FENCE}\")",
            exercise.name
        )),
    }
}

/// `solutions/Cargo.toml` lists each solution as `[[bin]] name = "NAME-solution"`, `path =
/// "src/bin/NAME.rs"` by hand: it must list exactly the built exercises of the manifest.
pub(super) fn solution_bins_differ(project: &Project) -> Vec<String> {
    let path = project.root.join("solutions/Cargo.toml");
    let Some(table) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
    else {
        return vec!["solutions/Cargo.toml cannot be read".into()];
    };
    let listed: BTreeMap<String, String> = table
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|bin| {
            let name = bin.get("name")?.as_str()?.to_owned();
            let path = bin.get("path")?.as_str()?.to_owned();
            Some((name, path))
        })
        .collect();
    let wanted: BTreeMap<String, String> = project
        .manifest
        .exercises
        .iter()
        .filter(|e| e.launch().is_built())
        .map(|e| {
            (
                Side::Solution.bin(&e.name),
                format!("src/bin/{}.rs", e.name),
            )
        })
        .collect();
    let mut problems = Vec::new();
    for (name, path) in &wanted {
        match listed.get(name) {
            None => problems.push(format!(
                "solutions/Cargo.toml lists no [[bin]] `{name}` (path = \"{path}\")"
            )),
            Some(found) if found != path => problems.push(format!(
                "solutions/Cargo.toml: [[bin]] `{name}` has path \"{found}\", not \"{path}\""
            )),
            Some(_) => {}
        }
    }
    for name in listed.keys().filter(|n| !wanted.contains_key(*n)) {
        problems.push(format!(
            "solutions/Cargo.toml lists [[bin]] `{name}`, which is no exercise in the manifest"
        ));
    }
    problems
}

/// A solution copied over its exercise must compile there: the two packages need the same
/// dependencies and the same library (if any). `Some`: how they differ.
pub(super) fn packages_differ(project: &Project) -> Option<String> {
    let read = |side: Side, file: &str| {
        std::fs::read_to_string(project.root.join(side.package()).join(file)).ok()
    };
    let dependencies = |side: Side| {
        let table: toml::Table = read(side, "Cargo.toml")?.parse().ok()?;
        table.get("dependencies").cloned()
    };
    if dependencies(Side::Exercise) != dependencies(Side::Solution) {
        return Some(
            "exercises/Cargo.toml and solutions/Cargo.toml list different [dependencies], so a copied solution may not compile"
                .into(),
        );
    }
    if read(Side::Exercise, "src/lib.rs") != read(Side::Solution, "src/lib.rs") {
        return Some(
            "exercises/src/lib.rs and solutions/src/lib.rs differ, so a copied solution may not compile"
                .into(),
        );
    }
    None
}
