//! The desired-state file: parsing YAML with positions, validating every field, and building the
//! [`DesiredState`] the rest of tagdrift consumes.

mod model;

pub use model::*;
