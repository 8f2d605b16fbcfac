//! End-to-end tests of the desktop app in a real window: Xvfb, tauri-driver and
//! WebKitWebDriver drive the built app (`scripts/setup` installs them; without them each test
//! prints `SKIPPED: <name>: <why>`). Screenshots go to `<target dir>/e2e-screenshots/`.

mod demo;
mod explorer;
mod window;
