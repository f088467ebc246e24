//! `etcd-console defrag [--dry-run] [--yes] [--output json]`: the headless
//! front end of the defrag wizard. Exit 0 when every planned member was done,
//! 1 when a gate, a failure or the user stopped it, 2 on bad input.

use super::output::errln;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::{outln, Printer};
use crate::cli::{ConsoleArgs, DefragArgs, OutputFormat};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::journal;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::units::format_bytes;
use etcd_console_core::wizard::defrag::engine::{NoteKind, RUNBOOK_WAIT};
use etcd_console_core::wizard::defrag::executor::{drive, Executor, Progress};
use etcd_console_core::wizard::defrag::journal::{last_defragmented, unfinished, Journal};
use etcd_console_core::wizard::defrag::{
    nospace_plan, plan, Action, DefragRun, NospacePlan, Options, Outcome, Plan, Rule,
};

/// The limit of a Defragment call when `--command-timeout` is not given.
pub const DEFAULT_DEFRAG_TIMEOUT: Duration = Duration::from_secs(30);
/// The limit of the reads between steps (Status, health, member list).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

const BAD_INPUT: i32 = 2;
const STOPPED: i32 = 1;

/// The rule the flags ask for; Err is bad input.
pub fn rule_of(args: &DefragArgs) -> Result<Rule, String> {
    match (&args.rule, args.all) {
        (Some(_), true) => Err("give --rule or --all, not both".into()),
        (Some(text), false) => Rule::expression(text),
        (None, true) => Ok(Rule::All),
        (None, false) => Ok(Rule::OpenShift),
    }
}

/// The run's options from the flags; Err is bad input (a short wait without its flag).
pub fn options_of(args: &DefragArgs, console: &ConsoleArgs) -> Result<Options, String> {
    Ok(Options {
        move_leader: args.move_leader,
        compact: args.compact,
        disarm: args.disarm,
        ..options_from(console, args.wait, "--wait")?
    })
}

/// The options every front end shares: the wait (refused below 60s without
/// --i-know-wait-is-short), the defrag call's limit and the quota.
pub fn options_from(console: &ConsoleArgs, wait: Duration, flag: &str) -> Result<Options, String> {
    if wait < RUNBOOK_WAIT && !console.i_know_wait_is_short {
        return Err(format!(
            "{flag} {} is shorter than the 60s between members that \"Defragmenting etcd data\" (OpenShift 4.14 documentation) asks; give --i-know-wait-is-short as well \
             to do it anyway",
            humantime::format_duration(wait)
        ));
    }
    Ok(Options {
        wait,
        command_timeout: console.defrag_timeout.unwrap_or(DEFAULT_DEFRAG_TIMEOUT),
        quota_bytes: console.quota_bytes,
        ..Options::default()
    })
}

struct DefragReport {
    out: Printer,
    notes_shown: usize,
    /// The wait being counted down has been announced.
    counting: bool,
}

impl DefragReport {
    fn line(&self, value: serde_json::Value, text: String) {
        self.out.line(value, text);
    }

    fn plan(&self, plan: &Plan, cluster_id: u64, rule: &Rule, options: &Options, nospace: Option<&NospacePlan>) {
        let clears = options.compact && options.disarm;
        if self.out.json {
            let steps: Vec<serde_json::Value> = plan
                .steps
                .iter()
                .map(|s| {
                    json!({"member": s.name, "id": format!("{:x}", s.id), "is_leader": s.is_leader,
                           "size_before": s.size_before, "expected_reclaim": s.expected_reclaim})
                })
                .collect();
            let skipped: Vec<serde_json::Value> =
                plan.skipped.iter().map(|(name, why)| json!({"member": name, "reason": why})).collect();
            outln!(
                "{}",
                json!({"event": "plan", "cluster_id": format!("{cluster_id:x}"), "rule": rule.describe(),
                       "steps": steps, "skipped": skipped, "expected_reclaim": plan.expected_reclaim(),
                       "wait_seconds": options.wait.as_secs_f64(),
                       "minimum_duration_seconds": plan.minimum_duration(options.wait).as_secs_f64(),
                       "compact": options.compact, "move_leader": options.move_leader, "disarm": options.disarm,
                       "alarms": nospace.map(|n| n.raised_by.iter().map(|m| json!({"member": m, "alarm": "NOSPACE"}))
                           .collect::<Vec<_>>()).unwrap_or_default(),
                       "nospace_plan": nospace.map(|n| json!({
                           "raised_by": n.raised_by, "members": n.members, "quota_bytes": n.quota_bytes,
                           "disarm_limit_bytes": n.disarm_limit_bytes(), "compact_to_revision": n.revision,
                           "steps": n.step_lines(), "this_run_clears_it": clears}))})
            );
            return;
        }
        outln!("Defrag plan for cluster {cluster_id:x} ({}):", rule.describe());
        if plan.steps.is_empty() {
            outln!("  no member needs it");
        }
        for (n, step) in plan.steps.iter().enumerate() {
            outln!(
                "  {}. {}{}: {} now, about {} to give back",
                n + 1,
                step.name,
                if step.is_leader { " (leader, last)" } else { "" },
                format_bytes(step.size_before),
                format_bytes(step.expected_reclaim)
            );
        }
        for (name, why) in &plan.skipped {
            outln!("  skipped {name}: {why}");
        }
        outln!(
            "  {} in all; at least {} with {} between members{}{}{}",
            format_bytes(plan.expected_reclaim()),
            humantime::format_duration(plan.minimum_duration(options.wait)),
            humantime::format_duration(options.wait),
            if options.compact { "; compacting to the current revision first" } else { "" },
            if options.move_leader { "; leadership moved off the leader before its turn" } else { "" },
            if options.disarm { "; NOSPACE cleared at the end if every member is below 90 % of the quota" } else { "" },
        );
        if let Some(nospace) = nospace {
            outln!(
                "NOSPACE alarm raised by {}: the cluster takes only reads and deletes until it is disarmed",
                nospace.raised_by.join(", ")
            );
            for member in &nospace.members {
                outln!(
                    "  {}: {} ({:.0} % of the {} quota), {} in use",
                    member.name,
                    format_bytes(member.db_size),
                    member.quota_pct,
                    format_bytes(nospace.quota_bytes),
                    format_bytes(member.db_size_in_use)
                );
            }
            outln!("What clears it:");
            for line in nospace.step_lines() {
                outln!("  {line}");
            }
            if clears {
                outln!("This run does it (--compact --disarm).");
            } else {
                outln!(
                    "This run does not clear it: give --compact --disarm (etcd-console defrag --compact --disarm), or press d in the console."
                );
            }
        }
        let _ = std::io::stdout().flush();
    }

    fn progress(&mut self, event: &Progress) {
        match event {
            Progress::Began { action: Action::Defragment { name, timeout, .. }, .. } => self.line(
                json!({"event": "began", "action": "defragment", "member": name,
                       "timeout_seconds": timeout.as_secs_f64()}),
                format!("defragmenting {name} (limit {})", humantime::format_duration(*timeout)),
            ),
            Progress::Began { action: Action::MoveLeader { to_name, .. }, .. } => self.line(
                json!({"event": "began", "action": "move-leader", "member": to_name}),
                format!("moving the leadership to {to_name}"),
            ),
            Progress::Began { action: Action::Compact { .. }, .. } => {
                self.line(json!({"event": "began", "action": "compact"}), "compacting".into())
            }
            Progress::Began { action: Action::AwaitAnswer { name, limit, .. }, .. } => self.line(
                json!({"event": "began", "action": "await-answer", "member": name,
                       "limit_seconds": limit.as_secs_f64()}),
                format!("waiting for {name} to answer (at most {})", humantime::format_duration(*limit)),
            ),
            Progress::Began { action: Action::Disarm { .. }, .. } => {
                self.line(json!({"event": "began", "action": "disarm"}), "clearing NOSPACE".into())
            }
            Progress::Began { action: Action::Wait { .. }, .. } => self.counting = false,
            Progress::Began { .. } => {}
            Progress::Countdown { left, total } => {
                let secs = left.as_secs() + u64::from(left.subsec_millis() >= 500);
                let first = !self.counting;
                self.counting = true;
                if first || (secs % 10 == 0 && !left.is_zero() && secs < total.as_secs()) {
                    self.line(
                        json!({"event": "countdown", "seconds_left": secs}),
                        format!("next member in {secs}s (checks the whole cluster first)"),
                    );
                }
            }
            Progress::Run(run) => {
                for note in run.notes.iter().skip(self.notes_shown) {
                    self.line(
                        json!({"event": "note", "kind": note.kind, "member": note.member, "text": note.text}),
                        match note.kind {
                            NoteKind::Warning => format!("warning: {}", note.text),
                            _ => note.text.clone(),
                        },
                    );
                }
                self.notes_shown = run.notes.len();
            }
        }
    }

    fn finished(&self, run: &DefragRun, journal: Option<&PathBuf>) {
        let done: Vec<serde_json::Value> = run
            .done
            .iter()
            .map(|d| {
                json!({"member": d.name, "id": format!("{:x}", d.id), "was_leader": d.was_leader,
                       "size_before": d.before.db_size, "size_after": d.after.db_size,
                       "seconds": d.took.map(|t| t.as_secs_f64())})
            })
            .collect();
        let not_done: Vec<&str> = run.remaining().iter().map(|p| p.name.as_str()).collect();
        let (outcome, reason) = match run.outcome() {
            Some(Outcome::Completed) => ("completed", None),
            Some(Outcome::Stopped { reason }) => ("stopped", Some(reason.clone())),
            None => ("stopped", Some("unfinished".to_string())),
        };
        let code = run.outcome().map(Outcome::exit_code).unwrap_or(1);
        if self.out.json {
            outln!(
                "{}",
                json!({"event": "finished", "outcome": outcome, "reason": reason, "done": done,
                       "not_done": not_done, "journal": journal, "exit": code})
            );
        } else if let Some(path) = journal {
            outln!("journal: {}", path.display());
        }
    }
}

fn describe_options(options: &Options) -> String {
    let mut said = vec![
        format!("wait {}", humantime::format_duration(options.wait)),
        format!("defrag limit {}", humantime::format_duration(options.command_timeout)),
    ];
    for (on, name) in [(options.move_leader, "move-leader"), (options.compact, "compact"), (options.disarm, "disarm")] {
        if on {
            said.push(name.into());
        }
    }
    said.join(", ")
}

fn confirmed(question: &str) -> Result<bool, String> {
    super::prompt::typed_word(&format!("{question}\nType 'defrag' to go on: "), "defrag", "defragment")
}

fn order_text(names: &[String]) -> String {
    match names {
        [] => "no member".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{}, then {last}", rest.join(", ")),
    }
}

pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &DefragArgs,
) -> i32 {
    let json_out = args.output == OutputFormat::Json;
    let fail_with = |message: String, code: i32| {
        if json_out {
            outln!("{}", json!({"event": "error", "message": message, "exit": code}));
        }
        errln!("etcd-console: {message}");
        code
    };
    // Bad flags, certificates, no confirmation: 2. The cluster or the journal failing us: 1.
    let fail = |message: String| fail_with(message, BAD_INPUT);
    let failed = |message: String| fail_with(message, STOPPED);
    let rule = match rule_of(args) {
        Ok(rule) => rule,
        Err(e) => return fail(e),
    };
    let mut options = match options_of(args, console) {
        Ok(options) => options,
        Err(e) => return fail(e),
    };
    if options.wait < RUNBOOK_WAIT {
        errln!(
            "etcd-console: warning: waiting only {} between members (\"Defragmenting etcd data\", OpenShift 4.14 documentation: at least 60s)",
            humantime::format_duration(options.wait)
        );
    }
    if console.read_only && !args.dry_run {
        return fail(
            "refused: --read-only is set, and a defrag writes to every member (--dry-run shows the plan)".into(),
        );
    }
    let Some(journal_dir) = console.journal_dir.clone().or_else(journal::default_dir) else {
        return fail("no home directory to keep the journal in: give --journal-dir".into());
    };
    let reads = ConnectionSettings { command_timeout: READ_TIMEOUT, ..connection.clone() };
    let source = match EtcdSource::choose(&reads, Some(kube)) {
        Ok(source) => source,
        Err(e) => return fail(e),
    };
    if !console.quota_given {
        // The NOSPACE plan and the 90 % rule need the real quota: read where it is written; --disarm
        // never goes on an assumed one.
        match super::status::read_quota(&source, console.quota_bytes, kube).await {
            Some(quota) => {
                options.quota_bytes = quota.bytes;
                errln!(
                    "etcd-console: the quota the 90 % rule is checked against: {} ({})",
                    etcd_console_core::units::format_bytes(quota.bytes),
                    quota.source.label()
                );
            }
            None if !args.disarm => {}
            None => {
                return fail(
                    "--disarm needs the cluster's quota to check the 90 % rule, and it could not be read (etcd 3.4 \
                     and 3.5 do not report it, and no etcd pod or etcd operator said it): give --quota-bytes \
                     (OpenShift's default is 8GiB)"
                        .into(),
                )
            }
        }
    }
    let reached = match source.reach().await {
        Ok(reached) => reached,
        Err(e) => return failed(format!("etcd not found through the cluster: {e}")),
    };
    let executor = Executor { reached, quota_bytes: options.quota_bytes };
    let view = executor.observe().await;
    if let Some(problem) = &view.problem {
        return failed(format!("{problem}\n{}", source.hint()));
    }
    let Some(cluster_id) = view.cluster_id() else {
        return failed("the members that answered do not agree on one cluster ID (or none answered Status)".into());
    };
    let mut printer = DefragReport { out: Printer::new(json_out), notes_shown: 0, counting: false };

    let unfinished = match unfinished(&journal_dir, cluster_id) {
        Ok(found) => found.filter(|_| !args.fresh),
        // Another cluster's journal under this one's name is bad input, not the cluster failing us.
        Err(e @ etcd_console_core::journal::JournalError::OtherCluster { .. }) => return fail(e.to_string()),
        Err(e) => return failed(e.to_string()),
    };
    let (mut run, journal) = if let Some(unfinished) = unfinished {
        let done: Vec<String> = unfinished.run.done.iter().map(|d| d.name.clone()).collect();
        let left: Vec<String> = unfinished.run.remaining().iter().map(|p| p.name.clone()).collect();
        printer.line(
            json!({"event": "unfinished", "last_written": unfinished.last_written, "done": done, "not_done": left,
                   "journal": unfinished.path}),
            format!(
                "an unfinished run of this cluster was found (last written {}): done {}; left {}. It is resumed \
                 with the options it was confirmed with ({}); this command's plan flags do not apply (--fresh sets \
                 it aside and plans anew).",
                unfinished.last_written,
                if done.is_empty() { "none".into() } else { done.join(", ") },
                if left.is_empty() { "none".into() } else { left.join(", ") },
                describe_options(&unfinished.run.options),
            ),
        );
        if args.dry_run {
            return 0;
        }
        if !args.yes {
            match confirmed(&format!("Resume defragmenting {} of cluster {cluster_id:x}?", order_text(&left))) {
                Ok(true) => {}
                Ok(false) => return fail("not confirmed: nothing was done".into()),
                Err(e) => return fail(e),
            }
        }
        let journal = match Journal::reopen(&unfinished) {
            Ok(journal) => journal,
            Err(e) => return failed(e.to_string()),
        };
        match unfinished.run.resumed(unfinished.in_flight.as_ref(), console.read_only) {
            Ok(run) => (run, journal),
            Err(e) => return fail(e),
        }
    } else {
        let mut nospace = match nospace_plan(&view.facts(), &view.alarms(), view.leader(), options.quota_bytes) {
            Some(Ok(nospace)) => Some(nospace),
            // The defrag's own plan below says why it is refused.
            Some(Err(_)) | None => None,
        };
        if let Some(nospace) = &mut nospace {
            nospace.revision = executor.current_revision().await.ok();
        }
        // Clearing NOSPACE asks for every member: `--compact --disarm` without a rule of its own
        // is the console's NOSPACE form.
        let rule = match (&nospace, args.compact && args.disarm && args.rule.is_none()) {
            (Some(_), true) => Rule::All,
            _ => rule,
        };
        let made = match plan(&view.facts(), view.leader(), &rule) {
            Ok(made) => made,
            Err(e) => {
                // No leader is the cluster's state, not bad input: a gate.
                if json_out {
                    outln!("{}", json!({"event": "finished", "outcome": "stopped", "reason": e, "exit": 1}));
                }
                errln!("etcd-console: {e}");
                return 1;
            }
        };
        printer.plan(&made, cluster_id, &rule, &options, nospace.as_ref());
        if args.dry_run {
            return 0;
        }
        if made.steps.is_empty() && !options.disarm {
            printer.line(
                json!({"event": "finished", "outcome": "completed", "done": [], "not_done": [], "exit": 0}),
                "nothing to do".into(),
            );
            return 0;
        }
        let mut run = match DefragRun::new(&made, cluster_id, options.clone(), console.read_only) {
            Ok(run) => run,
            Err(e) => return fail(e),
        };
        // A run stopped in its wait (Ctrl-C, SIGTERM, SIGHUP) and run again keeps the wait.
        if let Some((member, at)) = last_defragmented(&journal_dir, cluster_id) {
            run.after_earlier_run(&member, std::time::SystemTime::now().duration_since(at).unwrap_or_default());
        }
        if !args.yes {
            let names: Vec<String> = made
                .steps
                .iter()
                .map(|s| if s.is_leader { format!("{} (the leader)", s.name) } else { s.name.clone() })
                .collect();
            let question = format!(
                "Defragment {} of cluster {cluster_id:x}, one at a time, {} apart{}{}?",
                order_text(&names),
                humantime::format_duration(options.wait),
                if options.compact {
                    ", after compacting the keyspace to the current revision (old revisions are gone for good)"
                } else {
                    ""
                },
                if options.disarm { ", clearing NOSPACE at the end if safe" } else { "" },
            );
            match confirmed(&question) {
                Ok(true) => {}
                Ok(false) => return fail("not confirmed: nothing was done".into()),
                Err(e) => return fail(e),
            }
        }
        match Journal::create(&journal_dir, cluster_id) {
            Ok(journal) => (run, journal),
            Err(e) => return failed(e.to_string()),
        }
    };
    tracing::info!(target: "audit", action = "defrag run", cluster = %format!("{cluster_id:x}"),
        members = ?run.remaining().iter().map(|p| p.name.clone()).collect::<Vec<_>>(), "confirmed");

    let abort = CancellationToken::new();
    let stop = abort.clone();
    // Ctrl-C stops before the next member; a second one is not needed (and not
    // honoured): a defrag already sent cannot be called back.
    tokio::spawn(async move {
        let signal = super::interrupt::interrupted().await;
        errln!("etcd-console: {signal}: stopping before the next member");
        stop.cancel();
        std::future::pending::<()>().await;
    });
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let printing = tokio::spawn(async move {
        while let Some(event) = progress_rx.recv().await {
            printer.progress(&event);
        }
        printer
    });
    let finished = drive(&mut run, &executor, journal, abort, progress_tx).await;
    let printer = match printing.await {
        Ok(printer) => printer,
        Err(_) => DefragReport { out: Printer::new(json_out), notes_shown: run.notes.len(), counting: false },
    };
    let kept = match finished {
        Ok(path) => Some(path),
        Err(e) => {
            errln!("etcd-console: {e}");
            None
        }
    };
    printer.finished(&run, kept.as_ref());
    run.outcome().map(Outcome::exit_code).unwrap_or(1)
}
