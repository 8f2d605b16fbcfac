//! Bindings for `cloudops:scanner@0.1.0` (folder `wit/v0.1`).

wasmtime::component::bindgen!({
    world: "scanner-plugin",
    path: "../wit/v0.1",
});

pub use cloudops::scanner::types;
