//! Exercise files as the grader reads them: the fence between the learner's part and the
//! harness, and the top-level functions (to splice wrong answers in, and to tell whether the
//! code that ships with an exercise was changed).

/// The line that ends the learner's part of an exercise file; the harness follows it.
pub const FENCE: &str = "You do not need to change anything below this line";

/// `NAME` and the text above and below the fence line (the fence line goes with the harness).
pub fn split_at_fence(text: &str) -> Option<(&str, &str)> {
    let at = text.find(FENCE)?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    Some((&text[..line_start], &text[line_start..]))
}

/// The top-level functions in `text`: (name, the item's byte range from its `fn` line to its
/// closing brace). Braces inside string literals and `//` comments are skipped.
pub fn functions(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let Some(rest) = line.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(end) = item_end(text, start) {
            found.push((name, start..end));
        }
    }
    found
}

/// Where the item starting at `start` ends: just after the brace that closes its body.
pub fn item_end(text: &str, start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut in_comment, mut escaped) = (0usize, false, false, false);
    let bytes = text.as_bytes();
    for i in start..bytes.len() {
        let byte = bytes[i];
        if in_comment {
            in_comment = byte != b'\n';
        } else if in_string {
            in_string = escaped || byte != b'"';
            escaped = !escaped && byte == b'\\';
        } else {
            match byte {
                b'/' if bytes.get(i + 1) == Some(&b'/') => in_comment = true,
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// What of the code that ships with an exercise the learner changed, compared with the
/// handed-out file: every top-level function of the learner's part with no `todo!(` or TODO there
/// and is now missing or different (spacing aside), and the harness below the fence.
pub fn changed_shipped_code(handed_out: &str, mine: &str) -> Vec<String> {
    let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (shipped, shipped_harness) = split_at_fence(handed_out).unwrap_or((handed_out, ""));
    let (part, harness) = split_at_fence(mine).unwrap_or((mine, ""));
    let mine = functions(part);
    let mut changed = Vec::new();
    for (name, range) in functions(shipped) {
        let text = &shipped[range];
        if text.contains("todo!(") || text.contains("TODO") {
            continue;
        }
        let kept = mine
            .iter()
            .any(|(n, r)| *n == name && squash(&part[r.clone()]) == squash(text));
        if !kept {
            changed.push(format!("`{name}`"));
        }
    }
    if squash(shipped_harness) != squash(harness) {
        changed.push("the harness below the fence line".to_owned());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDED_OUT: &str = "fn handle_as_shipped(x: u64) -> u64 {\n    x + 1\n}\n\n\
        fn handle(x: u64) -> u64 {\n    // TODO: release the GIL\n    x\n}\n\n\
        // You do not need to change anything below this line\nfn main() {}\n";

    #[test]
    fn only_changes_to_shipped_code_are_named() {
        let answer = HANDED_OUT.replace("// TODO: release the GIL\n    x", "x + 2");
        assert_eq!(
            changed_shipped_code(HANDED_OUT, &answer),
            Vec::<String>::new()
        );
        let reformatted = answer.replace("    x + 1\n", "  x +  1\n");
        assert_eq!(
            changed_shipped_code(HANDED_OUT, &reformatted),
            Vec::<String>::new()
        );
        let edited = answer.replace("x + 1", "x + 2");
        assert_eq!(
            changed_shipped_code(HANDED_OUT, &edited),
            ["`handle_as_shipped`"]
        );
        let harness = answer.replace("fn main() {}", "fn main() { println!() }");
        assert_eq!(
            changed_shipped_code(HANDED_OUT, &harness),
            ["the harness below the fence line"]
        );
    }
}
