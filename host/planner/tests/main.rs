//! The planner's integration tests: the real model, the real embedded Qdrant index and the
//! default playbook library.

mod plans;
