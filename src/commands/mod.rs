//! The headless subcommands, one file each, and what they share: the typed-word
//! prompt and the printer.

pub mod backup;
pub mod completions;
pub mod csr;
pub mod defrag;
pub mod encryption;
pub mod interrupt;
pub mod member;
pub mod output;
pub mod prompt;
pub mod restore;
pub mod snapshot;
pub mod space;
pub mod status;
pub mod watch;
