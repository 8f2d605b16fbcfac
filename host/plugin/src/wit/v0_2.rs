//! Bindings for `cloudops:scanner@0.2.0` (folder `wit/v0.2`), the latest version: the
//! host's import implementations are written against these types.

wasmtime::component::bindgen!({
    world: "scanner-plugin",
    path: "../../wit/v0.2",
});

pub use cloudops::scanner::types;
