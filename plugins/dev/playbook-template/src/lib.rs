//! A playbook component (the template `cloudops playbook new` copies: rename it and make
//! it yours).
//!
//! `plan` receives the identified resources, the user's values and the steps the YAML
//! playbook planned, and returns the steps to take. The host keeps only what narrows the
//! plan: actions, targets and parameters the playbook declares (a parameter the YAML sets
//! keeps its value; one it declares as `null` is yours to fill). Read what you need with
//! `sdk::query` (reads only: the host refuses writes). Return `Err` with words for people
//! when the plan must not go ahead.

use cloudops_playbook_sdk::{self as sdk, PlanInput, Step};

struct Template;

impl sdk::Playbook for Template {
    fn plan(input: PlanInput) -> Result<Vec<Step>, String> {
        for target in &input.targets {
            sdk::log(
                sdk::Level::Info,
                &format!("planning {} ({})", target.name, target.resource_type),
            );
        }
        // Start from the YAML's plan: keep every step as planned.
        Ok(input.steps)
    }
}

cloudops_playbook_sdk::export!(Template);
