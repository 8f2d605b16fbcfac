//! Bindings for `cloudops:playbook@0.1.0` (folder `wit/playbook/v0.1`).
//!
//! A component's `aws.send` and `host.log` delegate to the scanner implementations in
//! `runtime`, so one gate, one request budget and one log budget serve both kinds of
//! component; only the record types are converted.

wasmtime::component::bindgen!({
    world: "playbook-component",
    path: "../../wit/playbook/v0.1",
});

use crate::runtime::PluginState;
use crate::wit::latest::cloudops::scanner;

use cloudops::playbook::{aws, host, types};

impl types::Host for PluginState {}

impl aws::Host for PluginState {
    fn send(&mut self, req: aws::Request) -> Result<aws::Response, String> {
        let req = scanner::aws::Request {
            service: req.service,
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        scanner::aws::Host::send(self, req).map(|r| aws::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }
}

impl host::Host for PluginState {
    fn log(&mut self, level: host::Level, message: String) {
        use scanner::host::Level;
        let level = match level {
            host::Level::Error => Level::Error,
            host::Level::Warn => Level::Warn,
            host::Level::Info => Level::Info,
            host::Level::Debug => Level::Debug,
            host::Level::Trace => Level::Trace,
        };
        scanner::host::Host::log(self, level, message);
    }
}
