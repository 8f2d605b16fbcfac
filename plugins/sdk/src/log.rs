//! Writing to the host's log, the plugin's only output channel (there is no stdout).
//!
//! Lines are tagged with the plugin's name by the host.

use crate::bindings::cloudops::scanner::host;
use crate::Level;

/// Writes `message` at `level`.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Writes an error line.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Writes a warning line.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes an informational line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes a debug line.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes a trace line.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}
