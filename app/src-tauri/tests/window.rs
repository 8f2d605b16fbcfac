//! The harness: an X server (Xvfb), WebKitWebDriver and one WebDriver session on the built
//! app, all torn down when dropped — also after a failed assertion, so nothing is left
//! running to hang the test pipe. Every WebDriver call has a timeout: without a display a
//! session hangs instead of failing (DESIGN.md § 5.5).

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// One window at a time: the tests share the machine's two cores and X displays.
static ONE_WINDOW: Mutex<()> = Mutex::new(());

/// The WebDriver key for Enter.
pub const ENTER: &str = "\u{E007}";

/// What a test needs that the machine may lack: `Some(reason)` when something is missing.
fn missing_tools() -> Option<String> {
    ["Xvfb", "WebKitWebDriver"]
        .into_iter()
        .find(|tool| which(tool).is_none())
        .map(|tool| format!("{tool} is not installed (scripts/setup installs it)"))
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// True (after printing the SKIPPED line) when the window's tools are missing: for tests
/// that prepare something costly before opening the window.
pub fn missing(test: &str) -> bool {
    match missing_tools() {
        Some(why) => {
            skip(test, &why);
            true
        }
        None => false,
    }
}

/// Prints the line scripts/test counts as a skipped test.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stdout().lock(), "SKIPPED: {test}: {why}");
}

/// Where screenshots go: `<target dir>/e2e-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("e2e-screenshots")
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A process started in its own process group, killed with its whole group when dropped
/// (WebKitWebDriver starts the app, which starts WebKit's processes).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // Taken first: a process that left the group (the emulator may) is still ours.
        let below = descendants(self.0.id());
        let group = format!("-{}", self.0.id());
        let kill = |signal: &str| {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        kill("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (WebKit's processes outlive their parent otherwise).
        kill("-KILL");
        for pid in below {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> std::io::Result<Group> {
    cmd.process_group(0).spawn().map(Group)
}

/// How a test's app is started.
pub struct Launch<'a> {
    /// The test's name (for SKIPPED lines and screenshot names).
    pub test: &'a str,
    /// `CLOUDOPS_DATA_DIR` for the app.
    pub data_dir: &'a Path,
    /// `HOME` for the app (no ~/.aws there: a first run).
    pub home: &'a Path,
    /// More environment for the app.
    pub env: Vec<(String, String)>,
}

/// A running app in a real window, driven over WebDriver.
pub struct Window {
    port: u16,
    session: String,
    test: String,
    // Dropped in this order: the session is closed first (in Drop), then WebKitWebDriver's
    // group (with the app), then the X server.
    driver: Option<Group>,
    xvfb: Option<Group>,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Window {
    /// Starts Xvfb, WebKitWebDriver and a session on the app; `None` (after printing the
    /// SKIPPED line) when the tools are missing.
    pub fn open(launch: Launch<'_>) -> Option<Window> {
        if let Some(why) = missing_tools() {
            skip(launch.test, &why);
            return None;
        }
        let lock = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
        let display = free_display();
        let xvfb = spawn_group(
            Command::new("Xvfb")
                .arg(format!(":{display}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("starting Xvfb");
        wait_for(
            Path::new(&format!("/tmp/.X11-unix/X{display}")),
            Duration::from_secs(20),
        );
        let port = free_port();
        // WebKitWebDriver itself, as tauri-driver would start it on Linux: that proxy only
        // renames the `tauri:options` capability to WebKitGTK's (below) and would cost every
        // machine a `cargo install`.
        let mut cmd = Command::new("WebKitWebDriver");
        cmd.args([format!("--port={port}"), "--host=127.0.0.1".to_owned()])
            // Tauri lets WebKit's automation drive its webview only when this is set.
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("DISPLAY", format!(":{display}"))
            .env("CLOUDOPS_DATA_DIR", launch.data_dir)
            .env("HOME", launch.home)
            .env("CLOUDOPS_KEY_STORE", "file")
            // WebKit's sandbox needs user namespaces, which CI containers often lack.
            .env("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1")
            .env("GDK_BACKEND", "x11")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let driver = spawn_group(&mut cmd).expect("starting WebKitWebDriver");
        wait_for_port(port, Duration::from_secs(30));
        let mut window = Window {
            port,
            session: String::new(),
            test: launch.test.to_owned(),
            driver: Some(driver),
            xvfb: Some(xvfb),
            _lock: lock,
        };
        let created = window.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {
                "binary": env!("CARGO_BIN_EXE_cloudops-app"),
                "args": [],
            }}}}),
        );
        window.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_owned();
        Some(window)
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|refused| panic!("WebDriver {method} {path}: {refused}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, Refused> {
        let (status, text) = http(self.port, method, path, &body, Duration::from_secs(90))
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value["value"].clone())
        } else {
            Err(Refused {
                stale: value["value"]["error"] == "stale element reference",
                answer: format!("{status}: {text}"),
            })
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Does `op` on the element `css` matches, waiting up to `timeout` for it to appear. The
    /// page re-renders as answers arrive, which leaves an element found a moment ago stale:
    /// then it is found again, so a test never races the page it drives.
    fn on_element<T>(
        &self,
        css: &str,
        timeout: Duration,
        op: impl Fn(&str) -> Result<T, Refused>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let element = self.wait(css, deadline.saturating_duration_since(Instant::now()));
            match op(&element) {
                Ok(done) => return done,
                Err(refused) if refused.stale && Instant::now() < deadline => continue,
                Err(refused) => panic!("WebDriver on `{css}`: {refused}"),
            }
        }
    }

    fn element_call(
        &self,
        method: &str,
        element: &str,
        what: &str,
        body: Value,
    ) -> Result<Value, Refused> {
        self.try_call(
            method,
            &format!("/session/{}/element/{element}/{what}", self.session),
            body,
        )
    }

    /// Runs JavaScript in the window and returns its value.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// The element matching a CSS selector, if there is one now.
    pub fn find(&self, css: &str) -> Option<String> {
        let found = self.session_call(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        );
        found.as_array()?.first().and_then(|e| {
            e.as_object()?
                .iter()
                .find(|(k, _)| k.starts_with("element-"))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
    }

    /// Waits up to `timeout` for `css` to match, then returns the element.
    pub fn wait(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("{}-timeout", self.test));
                panic!("`{css}` did not appear within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of `css` satisfies `test`; returns it.
    pub fn wait_text(&self, css: &str, timeout: Duration, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Some(e) = self.find(css) {
                // A stale element was re-rendered since it was found: look again.
                if let Ok(text) = self.element_text(&e) {
                    last = text;
                    if test(&last) {
                        return last;
                    }
                }
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("{}-timeout", self.test));
                panic!("`{css}` never had the expected text within {timeout:?}; last: {last:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn element_text(&self, element: &str) -> Result<String, Refused> {
        let text = self.element_call("GET", element, "text", Value::Null)?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The visible text of `css`, once it is there (up to `timeout`).
    pub fn text(&self, css: &str, timeout: Duration) -> String {
        self.on_element(css, timeout, |e| self.element_text(e))
    }

    /// Clicks `css`, once it is there (up to `timeout`).
    pub fn click(&self, css: &str, timeout: Duration) {
        self.on_element(css, timeout, |e| {
            self.element_call("POST", e, "click", json!({}))
        });
    }

    /// Types into `css`, once it is there (up to `timeout`).
    pub fn type_into(&self, css: &str, text: &str, timeout: Duration) {
        self.on_element(css, timeout, |e| {
            self.element_call("POST", e, "value", json!({"text": text}))
        });
    }

    /// Saves a screenshot of the window as `<name>.png` and prints its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
        let png = self.session_call("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("writing the screenshot");
        say!("screenshot: {}", path.display());
        path
    }

    /// The proportional set size (PSS) of the app and WebKit's processes it started (web,
    /// network), in MiB, by process name: what the app costs the machine. The demo's
    /// emulator, also its child, stands in for AWS and is not counted.
    pub fn memory_mib(&self) -> Vec<(String, f64)> {
        let app =
            std::fs::canonicalize(env!("CARGO_BIN_EXE_cloudops-app")).expect("the app binary");
        let driver = self.driver.as_ref().expect("running").0.id();
        let mut roots = Vec::new();
        for pid in descendants(driver) {
            if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app) {
                roots.push(pid);
            }
        }
        assert!(
            !roots.is_empty(),
            "the app process was not found under WebKitWebDriver"
        );
        let comm = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default()
        };
        let mut by_name: Vec<(String, f64)> = Vec::new();
        for pid in roots.iter().flat_map(|&pid| {
            std::iter::once(pid).chain(
                descendants(pid)
                    .into_iter()
                    .filter(|&p| comm(p).starts_with("WebKit")),
            )
        }) {
            let (name, mib) = (comm(pid), pss_kib(pid) as f64 / 1024.0);
            match by_name.iter_mut().find(|(n, _)| *n == name) {
                Some((_, total)) => *total += mib,
                None => by_name.push((name, mib)),
            }
        }
        by_name
    }
}

/// A WebDriver call the server refused.
struct Refused {
    /// The element was replaced since it was found (WebDriver's "stale element reference").
    stale: bool,
    /// The status and body, for the failure message.
    answer: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.answer)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closing the session closes the window; a failure here must not hide the test's.
            let path = format!("/session/{}", self.session);
            let _ = http(
                self.port,
                "DELETE",
                &path,
                &Value::Null,
                Duration::from_secs(10),
            );
        }
        self.driver.take();
        self.xvfb.take();
    }
}

/// One HTTP/1.0 exchange with the WebDriver server on the loopback port (HTTP/1.0: the
/// answer ends when the connection closes, with no chunking to undo). Returns the status
/// and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &Value,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    Ok((status, text.to_owned()))
}

/// Every process below `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
        {
            children.push((p, ppid));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, ppid) in &children {
            if ppid == parent {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// An X display number nobody uses.
fn free_display() -> u32 {
    (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X{n}-lock")).exists()
                && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        })
        .expect("a free X display number between 90 and 200")
}

fn wait_for(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "WebKitWebDriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The 95th percentile of `samples` (nearest rank).
pub fn p95(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
