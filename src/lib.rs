//! etcd-console, the console: what a person or a script touches. The flags
//! (`cli`), the headless subcommands (`commands`), and the terminal UI (`tui`
//! runs `app`'s state, drawn by `ui`, and starts the wizards' runs through
//! `runs`). The work itself is done by `etcd_console_core`.

pub mod app;
pub mod cli;
pub mod commands;
pub mod logging;
pub mod runs;
pub mod tui;
pub mod ui;
