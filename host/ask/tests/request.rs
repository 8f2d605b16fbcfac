//! The plan request carries only what planning needs (see request.rs).
