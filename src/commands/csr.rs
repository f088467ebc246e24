//! `etcd-console csr list | approve NAME... | approve --all-valid [--node NAME]... | deny NAME... [--yes]`:
//! the headless front end of the CSR engine (`openshift::csr`). Exit 0 done,
//! 1 something refused, cancelled or failed, 2 bad input or the API unreachable.

use super::output::errln;
use std::time::SystemTime;

use serde_json::json;

use super::output::outln;
use crate::cli::{CsrCommand, OutputFormat};
use etcd_console_core::openshift::csr::{self, PendingCsr, Selection};
use etcd_console_core::openshift::{connect, Connection};
use etcd_console_core::settings::KubeSettings;
use etcd_console_core::units::{format_age, safe_text, safe_text_within};

/// The most characters a table cell shows of outside text (a Kubernetes name is at most 253).
const CELL_MAX_CHARS: usize = 96;

fn age(csr: &PendingCsr, now: SystemTime) -> String {
    csr.age(now).map(format_age).unwrap_or_else(|| "-".into())
}

fn print_table(pending: &[PendingCsr]) {
    let now = SystemTime::now();
    let rows: Vec<[String; 6]> = pending
        .iter()
        .map(|c| {
            [
                safe_text_within(&c.name, CELL_MAX_CHARS),
                age(c, now),
                c.class.as_str().into(),
                safe_text_within(&c.signer, CELL_MAX_CHARS),
                safe_text_within(&c.requestor, CELL_MAX_CHARS),
                safe_text_within(&c.subject(), 2 * CELL_MAX_CHARS),
            ]
        })
        .collect();
    let header = ["NAME", "AGE", "CLASS", "SIGNER", "REQUESTOR", "SUBJECT"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        outln!("{}", line.join("  ").trim_end());
    }
}

fn list_json(connection: &Connection, pending: &[PendingCsr]) -> serde_json::Value {
    let now = SystemTime::now();
    let csrs: Vec<serde_json::Value> = pending
        .iter()
        .map(|c| {
            let mut value = serde_json::to_value(c).unwrap_or_default();
            value["age_seconds"] = json!(c.age(now).map(|a| a.as_secs()));
            value
        })
        .collect();
    let limit = pending.iter().find_map(|c| c.pending_limit);
    let over = csr::over_pending_limit(pending, now).map(|(recent, limit)| csr::over_limit_text(recent, limit));
    json!({"server": connection.server, "csrs_pending": csrs, "pending_limit": limit, "over_pending_limit": over})
}

/// Asks on the terminal; Ok(true) only for the word `verb` (approve, deny).
fn confirmed(verb: &str, count: usize) -> Result<bool, String> {
    let question = format!("Type '{verb}' to {verb} {count} CSR{}: ", if count == 1 { "" } else { "s" });
    super::prompt::typed_word(&question, verb, verb)
}

pub async fn run(kube: &KubeSettings, read_only: bool, command: &CsrCommand) -> i32 {
    // Nodes the SRE declares (`approve --node`): their node-bootstrapper CSRs need no Machine.
    let declared: &[String] = match command {
        CsrCommand::Approve { nodes, .. } => nodes,
        _ => &[],
    };
    if let Some(bad) = declared.iter().find(|n| !csr::is_dns1123_subdomain(n)) {
        eprintln!(
            "etcd-console: --node {}: not a node's name (a DNS-1123 subdomain: lowercase letters, digits, \
             '-' and '.'); give the name the node registers with",
            safe_text(&format!("{bad:?}"))
        );
        return 2;
    }
    let connection = match connect(kube).await {
        Ok(connection) => connection,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    let pending = match csr::pending(&connection, declared).await {
        Ok(pending) => pending,
        Err(e) => {
            errln!("etcd-console: {}", safe_text(&e));
            return 2;
        }
    };
    if let Some((recent, limit)) = csr::over_pending_limit(&pending, SystemTime::now()) {
        errln!("etcd-console: {}", csr::over_limit_text(recent, limit));
    }
    match command {
        CsrCommand::List { output: OutputFormat::Json } => {
            outln!("{}", serde_json::to_string_pretty(&list_json(&connection, &pending)).unwrap_or_default());
            0
        }
        CsrCommand::List { output: OutputFormat::Table } => {
            if pending.is_empty() {
                errln!("no pending CSRs on {}", connection.server);
            } else {
                print_table(&pending);
            }
            0
        }
        CsrCommand::Approve { names, all_valid, yes, .. } => {
            let selection = if *all_valid { Selection::AllValid } else { Selection::Named(names.clone()) };
            decide(&connection, csr::plan(&pending, &selection, read_only), Verdict::Approve, *yes).await
        }
        CsrCommand::Deny { names, yes } => {
            decide(&connection, csr::plan_denial(&pending, names, read_only), Verdict::Deny, *yes).await
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Approve,
    Deny,
}

async fn decide(connection: &Connection, plan: Result<csr::ApprovalPlan, String>, verdict: Verdict, yes: bool) -> i32 {
    let (verb, doing, done) = match verdict {
        Verdict::Approve => ("approve", "approving", "approved"),
        Verdict::Deny => ("deny", "denying", "denied"),
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    for (name, why) in &plan.refused {
        errln!("not {doing} {}: {}", safe_text_within(name, CELL_MAX_CHARS), safe_text(why));
    }
    if plan.approve.is_empty() {
        errln!("nothing to {verb}");
        return if plan.refused.is_empty() { 0 } else { 1 };
    }
    outln!("About to {verb} {} CSR(s) on {}:", plan.approve.len(), connection.server);
    for c in &plan.approve {
        outln!(
            "  {}  {}  {}  {}",
            safe_text_within(&c.name, CELL_MAX_CHARS),
            c.class.as_str(),
            safe_text_within(&c.requestor, CELL_MAX_CHARS),
            safe_text_within(&c.subject(), 2 * CELL_MAX_CHARS)
        );
        if !c.class.is_valid() {
            outln!("    ! unexpected: {}", safe_text(&c.reason));
        }
    }
    if !yes {
        match confirmed(verb, plan.approve.len()) {
            Ok(true) => {}
            Ok(false) => {
                errln!("nothing {done}");
                return 1;
            }
            Err(e) => {
                errln!("etcd-console: {e}");
                return 2;
            }
        }
    }
    let mut failed = false;
    for c in &plan.approve {
        let outcome = match verdict {
            Verdict::Approve => csr::approve(connection, &c.name).await,
            Verdict::Deny => csr::deny(connection, &c.name).await,
        };
        match outcome {
            Ok(()) => outln!("certificatesigningrequest/{} {done}", safe_text(&c.name)),
            Err(e) => {
                failed = true;
                errln!("etcd-console: {}", safe_text(&e));
            }
        }
    }
    if failed || !plan.refused.is_empty() {
        1
    } else {
        0
    }
}
