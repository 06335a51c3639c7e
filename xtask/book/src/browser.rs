//! The book in a real browser: headless Chromium, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages on file descriptors 3 and 4, so no port, no
//! websocket crate, no chromedriver). Every page is loaded and checked for console errors,
//! broken links and images, and screenshotted; every figure is loaded on its own and must
//! draw something (a non-empty bounding box besides its background).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::{FromRawFd as _, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::html::html_name;
use crate::sources::Book;

/// What the check found.
pub enum Verdict {
    /// No Chromium here: why, in one line.
    Skipped(String),
    /// Pages and figures loaded, and what was wrong with them.
    Checked {
        pages: usize,
        figures: usize,
        problems: Vec<String>,
    },
}

/// The flags Chromium needs to run headless in a container, in a profile of its own.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
];

const WIDTH: u32 = 1200;
const TIMEOUT: Duration = Duration::from_secs(30);

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Load every page and figure of the book in `out` and report what is wrong.
pub fn check(out: &Path, book: &Book) -> anyhow::Result<Verdict> {
    let Some(chromium) = find_chromium() else {
        return Ok(Verdict::Skipped(
            "no chromium on PATH (Debian: apt-get install chromium)".to_owned(),
        ));
    };
    let profile = std::env::temp_dir().join(format!("course-book-chromium-{}", std::process::id()));
    std::fs::remove_dir_all(&profile).ok();
    std::fs::create_dir_all(&profile)?;
    let shots = out.join("shots");
    std::fs::remove_dir_all(&shots).ok();
    std::fs::create_dir_all(&shots)?;
    let mut browser = Browser::start(&chromium, &profile)?;
    let result = check_all(&mut browser, out, book, &shots);
    browser.close();
    std::fs::remove_dir_all(&profile).ok();
    result
}

fn check_all(
    browser: &mut Browser,
    out: &Path,
    book: &Book,
    shots: &Path,
) -> anyhow::Result<Verdict> {
    let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }), None)?;
    let target_id = target["targetId"]
        .as_str()
        .context("no targetId")?
        .to_owned();
    let attached = browser.call(
        "Target.attachToTarget",
        json!({ "targetId": target_id, "flatten": true }),
        None,
    )?;
    let session = attached["sessionId"]
        .as_str()
        .context("no sessionId")?
        .to_owned();
    let s = Some(session.as_str());
    for method in ["Page.enable", "Runtime.enable", "Log.enable"] {
        browser.call(method, json!({}), s)?;
    }
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        s,
    )?;

    let mut problems = Vec::new();
    let mut figures = BTreeSet::new();
    for page in &book.pages {
        let name = html_name(&page.path);
        let file = out.join(&name);
        let events = browser.load(&file, s)?;
        problems.extend(
            console_errors(&events)
                .into_iter()
                .map(|e| format!("{name}: {e}")),
        );
        let found: Value = browser.evaluate(
            "JSON.stringify({ links: [...document.querySelectorAll('a[href]')].map(a => a.href), \
             broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0) \
               .map(i => i.getAttribute('src')), \
             images: [...document.images].map(i => i.src), \
             height: document.documentElement.scrollHeight })",
            s,
        )?;
        for link in found["links"].as_array().into_iter().flatten() {
            let link = link.as_str().unwrap_or_default();
            if let Some(path) = link.strip_prefix("file://") {
                let path = path.split('#').next().unwrap_or_default();
                if !Path::new(path).is_file() {
                    problems.push(format!("{name}: broken link {link}"));
                }
            }
        }
        for image in found["broken"].as_array().into_iter().flatten() {
            let image = image.as_str().unwrap_or_default();
            problems.push(format!("{name}: image does not load: {image}"));
        }
        for image in found["images"].as_array().into_iter().flatten() {
            if let Some(path) = image.as_str().and_then(|i| i.strip_prefix("file://")) {
                figures.insert(PathBuf::from(path));
            }
        }
        let height = found["height"]
            .as_f64()
            .unwrap_or(900.0)
            .clamp(100.0, 16_000.0);
        let shot = browser.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true, "optimizeForSpeed": true,
                    "clip": { "x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1 } }),
            s,
        )?;
        let png = base64_decode(shot["data"].as_str().context("no screenshot data")?)?;
        std::fs::write(
            shots.join(name.replace('/', "-").replace(".html", ".png")),
            png,
        )?;
    }
    for figure in &figures {
        let name = figure
            .strip_prefix(out)
            .unwrap_or(figure)
            .display()
            .to_string();
        let events = browser.load(figure, s)?;
        problems.extend(
            console_errors(&events)
                .into_iter()
                .map(|e| format!("{name}: {e}")),
        );
        let bbox: Value = browser.evaluate(
            "(() => { const root = document.documentElement; \
               if (root.tagName !== 'svg') return JSON.stringify({ svg: false }); \
               let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity; \
               for (const e of root.querySelectorAll('rect,line,polyline,polygon,circle,text,path')) { \
                 if (e.classList.contains('background')) continue; \
                 const b = e.getBBox(); \
                 x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); \
                 x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height); } \
               return JSON.stringify({ svg: true, w: x1 - x0, h: y1 - y0 }); })()",
            s,
        )?;
        let w = bbox["w"].as_f64().unwrap_or(0.0);
        let h = bbox["h"].as_f64().unwrap_or(0.0);
        if bbox["svg"] != true {
            problems.push(format!("{name}: not an SVG document"));
        } else if !(w > 0.0 && h > 0.0) {
            problems.push(format!("{name}: draws nothing (empty bounding box)"));
        }
    }
    Ok(Verdict::Checked {
        pages: book.pages.len(),
        figures: figures.len(),
        problems,
    })
}

/// Console errors, uncaught exceptions and failed loads among a page's events.
fn console_errors(events: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    for event in events {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                errors.push(format!("console error: {}", params["args"]));
            }
            Some("Runtime.exceptionThrown") => {
                errors.push(format!("exception: {}", params["exceptionDetails"]["text"]));
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                errors.push(format!(
                    "{} {}",
                    params["entry"]["text"].as_str().unwrap_or_default(),
                    params["entry"]["url"].as_str().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    errors
}

/// A headless Chromium and the two pipes of its DevTools protocol.
struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Events received while waiting for a response, for the caller to look at.
    events: Vec<Value>,
}

impl Browser {
    fn start(chromium: &Path, profile: &Path) -> anyhow::Result<Browser> {
        let (cmd_read, cmd_write) = pipe()?;
        let (res_read, res_write) = pipe()?;
        let mut command = Command::new(chromium);
        command
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec this only calls async-signal-safe functions (fcntl,
        // dup2, close) on descriptors this process owns.
        unsafe {
            command.pre_exec(move || {
                // Move both ends out of the way first, so dup2 onto 3 and 4 cannot clobber one.
                let high_cmd = libc::fcntl(cmd_read, libc::F_DUPFD, 10);
                let high_res = libc::fcntl(res_write, libc::F_DUPFD, 10);
                if high_cmd < 0
                    || high_res < 0
                    || libc::dup2(high_cmd, 3) < 0
                    || libc::dup2(high_res, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(high_cmd);
                libc::close(high_res);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", chromium.display()))?;
        // SAFETY: the descriptors came from pipe2 above and are owned here alone.
        let (to_browser, from_browser) = unsafe {
            libc::close(cmd_read);
            libc::close(res_write);
            (File::from_raw_fd(cmd_write), File::from_raw_fd(res_read))
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        Ok(Browser {
            child,
            to_browser,
            from_browser: rx,
            next_id: 1,
            events: Vec::new(),
        })
    }

    /// Send a command and wait for its result; events that arrive meanwhile are kept.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message)?;
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .context("Chromium closed its DevTools pipe")?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let value = self.receive(deadline, method)?;
            if value["id"] == id {
                if let Some(error) = value.get("error") {
                    bail!("Chromium: {method} failed: {error}");
                }
                return Ok(value["result"].clone());
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> anyhow::Result<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout) => bail!("Chromium did not answer {waiting_for}"),
            Err(RecvTimeoutError::Disconnected) => bail!("Chromium exited during {waiting_for}"),
        }
    }

    /// Navigate to a file and wait for its load event; the events of the load.
    fn load(&mut self, file: &Path, session: Option<&str>) -> anyhow::Result<Vec<Value>> {
        self.events.clear();
        let url = format!("file://{}", file.display());
        self.call("Page.navigate", json!({ "url": url }), session)?;
        let deadline = Instant::now() + TIMEOUT;
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            let value = self.receive(deadline, "the page load")?;
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
        Ok(std::mem::take(&mut self.events))
    }

    /// Evaluate a JavaScript expression that returns a JSON string, and parse it.
    fn evaluate(&mut self, expression: &str, session: Option<&str>) -> anyhow::Result<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
            session,
        )?;
        let text = result["result"]["value"]
            .as_str()
            .with_context(|| format!("evaluation failed: {result}"))?;
        Ok(serde_json::from_str(text)?)
    }

    fn close(mut self) {
        let _ = self.call("Browser.close", json!({}), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pipe whose ends are closed on exec (the child gets copies on 3 and 4 only).
fn pipe() -> anyhow::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe: {}", std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Standard base64 (what DevTools returns screenshots in).
fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    let value = |c: u8| -> anyhow::Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64: {:?}", c as char),
        }
        .into())
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let take = chunk.len().saturating_sub(1);
        out.extend(n.to_be_bytes()[1..=take.min(3)].iter());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with one of each fault the check must catch. Needs Chromium (CI installs it);
    /// without it there is nothing to drive and the test says so.
    #[test]
    fn the_check_catches_broken_links_images_console_errors_and_empty_figures() {
        if find_chromium().is_none() {
            eprintln!("no chromium on PATH: nothing to drive");
            return;
        }
        let dir = std::env::temp_dir().join(format!("course-book-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("index.html"),
            "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body>\
             <a href=\"missing.html\">x</a><img src=\"empty.svg\"><img src=\"drawn.svg\">\
             <img src=\"gone.svg\"><script>console.error('boom')</script></body></html>",
        )
        .unwrap();
        let svg = |inner: &str| {
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\" height=\"20\">\
                 <rect class=\"background\" width=\"20\" height=\"20\" fill=\"#fff\"/>\
                 {inner}</svg>"
            )
        };
        std::fs::write(dir.join("empty.svg"), svg("")).unwrap();
        std::fs::write(
            dir.join("drawn.svg"),
            svg("<rect x=\"2\" y=\"2\" width=\"5\" height=\"5\"/>"),
        )
        .unwrap();
        let book = Book {
            title: "t".to_owned(),
            pages: vec![crate::sources::Page {
                path: "index.md".to_owned(),
                title: "t".to_owned(),
                level: 0,
                markdown: String::new(),
            }],
        };
        let verdict = check(&dir, &book).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let Verdict::Checked { problems, .. } = verdict else {
            panic!("skipped although chromium is here");
        };
        let found = |what: &str| problems.iter().any(|p| p.contains(what));
        assert!(found("broken link"), "{problems:#?}");
        assert!(found("image does not load: gone.svg"), "{problems:#?}");
        assert!(found("boom"), "{problems:#?}");
        assert!(found("empty.svg: draws nothing"), "{problems:#?}");
        assert!(
            !problems.iter().any(|p| p.contains("drawn.svg")),
            "{problems:#?}"
        );
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("a$==").is_err());
    }
}
