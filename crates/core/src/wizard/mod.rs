//! The wizards: pure state machines the TUI and the headless subcommands both
//! drive. Their safety rules live here, so they hold whatever the front end.

pub mod backup;
pub mod defrag;
pub mod encryption;
pub mod member;
pub mod restore;

#[cfg(test)]
pub(crate) mod model;
