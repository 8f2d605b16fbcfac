//! End-to-end tests of the desktop app in a real window: Xvfb and WebKitWebDriver drive the
//! built app (`scripts/setup` installs them; without them each test prints
//! `SKIPPED: <name>: <why>`). Screenshots go to `<target dir>/e2e-screenshots/`.

/// `println!` past libtest's capture: a passing test's figures and screenshot paths must
/// reach the log, where scripts/test and CI show them.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod demo;
mod explorer;
mod window;
