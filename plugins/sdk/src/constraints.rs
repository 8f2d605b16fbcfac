//! Starting points for [`Constraints`], the answer of `analyze`.
//!
//! The WIT record is generated, so it has no `Default`; start from [`none`] and allow what
//! the resource's state allows.
//!
//! ```
//! use cloudops_scanner_sdk::constraints;
//!
//! let mut c = constraints::none();
//! c.can_delete = true;
//! c.notes.push("deleting a widget cannot be undone".into());
//! assert!(!c.can_stop && !c.has_backups);
//! ```

use crate::Constraints;

/// Constraints that allow nothing, claim nothing and say nothing: every flag `false`, no
/// notes. The safe answer for a resource type or state the scanner does not know.
pub fn none() -> Constraints {
    Constraints {
        can_stop: false,
        can_start: false,
        can_delete: false,
        has_backups: false,
        has_dependencies: false,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn none_allows_nothing() {
        let c = super::none();
        let flags = [
            c.can_stop,
            c.can_start,
            c.can_delete,
            c.has_backups,
            c.has_dependencies,
        ];
        assert_eq!(flags, [false; 5]);
        assert!(c.notes.is_empty());
    }
}
