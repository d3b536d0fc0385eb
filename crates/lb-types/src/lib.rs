//! The vocabulary of the Load-balancer API (Octavia v2): records, enums
//! and limits, `LbError` with upstream's fault texts, request parsing and
//! validation as octavia 19 does it, the state machine and the status
//! tree, and rendering to the API's JSON. No I/O and no async here.
//!
//! Design: docs/design/load-balancing.md §1.1, §2, §3.

pub mod checks;
pub mod consts;
pub mod enums;
mod error;
pub mod model;
mod patch;
pub mod render;
pub mod request;
pub mod sample;
pub mod state;
pub mod status_tree;
pub mod wsme;

pub use error::{LbError, resource};
pub use patch::Patch;
