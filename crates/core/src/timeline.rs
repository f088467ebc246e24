//! The incident timeline: every change the console sees, and every action taken here, with
//! its time and source. One producer ([`Producer`]) turns what the poller and the OpenShift
//! watch report into events; the console's timeline pane and `etcd-console watch` both use it,
//! so they say the same things at the same moments. [`Timeline`] keeps the newest
//! [`Timeline::CAPACITY`] events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Value};

use crate::cluster::{ClusterState, Severity};
use crate::etcd::poller::PollEvent;
use crate::openshift::csr::PendingCsr;
use crate::openshift::model::{Encryption, Rollout};
use crate::openshift::report::{encryption_of, rollouts_of};
use crate::openshift::watch::{OpenShiftEvent, Watched};
use crate::units::safe_text;

/// What happened, as a word scripts can match on (`kind` in `watch -o json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No seed endpoint answered: the member list cannot be read.
    ClusterUnreachable,
    /// The member list was read again after that.
    ClusterReached,
    LeaderChanged,
    LeaderLost,
    MemberAdded,
    MemberRemoved,
    MemberSilent,
    MemberBack,
    HealthChanged,
    AlarmRaised,
    AlarmCleared,
    QuotaCrossed,
    MembersDisagree,
    MembersAgree,
    RolloutBegun,
    RolloutNodeDone,
    RolloutFinished,
    RolloutFailed,
    EncryptionPhase,
    CsrFiled,
    CsrApproved,
    CsrDenied,
    CsrGone,
    ApiConnected,
    ApiUnavailable,
    ApiLost,
    ApiBack,
    /// Something done here: a wizard's step, a change confirmed, its outcome.
    Action,
    /// A line the console showed in its footer (an outcome, a refusal).
    Notice,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ClusterUnreachable => "cluster_unreachable",
            Kind::ClusterReached => "cluster_reached",
            Kind::LeaderChanged => "leader_changed",
            Kind::LeaderLost => "leader_lost",
            Kind::MemberAdded => "member_added",
            Kind::MemberRemoved => "member_removed",
            Kind::MemberSilent => "member_silent",
            Kind::MemberBack => "member_back",
            Kind::HealthChanged => "health_changed",
            Kind::AlarmRaised => "alarm_raised",
            Kind::AlarmCleared => "alarm_cleared",
            Kind::QuotaCrossed => "quota_crossed",
            Kind::MembersDisagree => "members_disagree",
            Kind::MembersAgree => "members_agree",
            Kind::RolloutBegun => "rollout_begun",
            Kind::RolloutNodeDone => "rollout_node_done",
            Kind::RolloutFinished => "rollout_finished",
            Kind::RolloutFailed => "rollout_failed",
            Kind::EncryptionPhase => "encryption_phase",
            Kind::CsrFiled => "csr_filed",
            Kind::CsrApproved => "csr_approved",
            Kind::CsrDenied => "csr_denied",
            Kind::CsrGone => "csr_gone",
            Kind::ApiConnected => "api_connected",
            Kind::ApiUnavailable => "api_unavailable",
            Kind::ApiLost => "api_lost",
            Kind::ApiBack => "api_back",
            Kind::Action => "action",
            Kind::Notice => "notice",
        }
    }

    /// Worth a colour: something went wrong (or came right again).
    pub fn severity(self) -> Option<Severity> {
        match self {
            Kind::ClusterUnreachable
            | Kind::LeaderLost
            | Kind::MemberSilent
            | Kind::AlarmRaised
            | Kind::RolloutFailed
            | Kind::ApiLost => Some(Severity::Critical),
            Kind::LeaderChanged
            | Kind::HealthChanged
            | Kind::QuotaCrossed
            | Kind::MembersDisagree
            | Kind::ApiUnavailable
            | Kind::MemberRemoved => Some(Severity::Warning),
            Kind::Action => Some(Severity::Info),
            _ => None,
        }
    }
}

/// Where the event was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The members' own answers (Status, health reads, member lists).
    Etcd,
    /// The Kubernetes/OpenShift API's watches.
    Openshift,
    /// This console: its wizards and the changes confirmed here.
    Console,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Etcd => "etcd",
            Source::Openshift => "openshift",
            Source::Console => "console",
        }
    }
}

/// One line of the timeline. Its text fields hold outside text already made safe to print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    pub kind: Kind,
    pub source: Source,
    /// The member (or node) it is about, when it is about one.
    pub member: Option<String>,
    pub message: String,
    /// The figures behind the message (from/to/term, percent, revision, ...): a JSON object,
    /// kept as its text (a tenth of a parsed value's memory: 10,000 events are kept).
    #[serde(serialize_with = "raw_json")]
    details: Box<str>,
}

fn raw_json<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let raw = serde_json::value::RawValue::from_string(text.to_string()).map_err(S::Error::custom)?;
    raw.serialize(serializer)
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_millis(*time))
}

impl Event {
    pub fn new(time: SystemTime, kind: Kind, source: Source, member: Option<&str>, message: String) -> Event {
        // Kept by the ten thousand: no spare capacity.
        let tight = |text: &str| {
            let mut text = safe_text(text);
            text.shrink_to_fit();
            text
        };
        Event { time, kind, source, member: member.map(tight), message: tight(&message), details: "{}".into() }
    }

    pub fn with(mut self, details: Value) -> Event {
        self.details = details.to_string().into_boxed_str();
        self
    }

    /// The figures behind the message, as a JSON object.
    pub fn details(&self) -> Value {
        serde_json::from_str(&self.details).unwrap_or_default()
    }

    /// `2026-12-07T18:10:45Z` (UTC, to the second).
    pub fn time_text(&self) -> String {
        humantime::format_rfc3339_seconds(self.time).to_string()
    }

    /// One line for `watch -o text`: time, source, kind, member, message.
    pub fn to_text(&self) -> String {
        let member = self.member.as_deref().map(|m| format!(" {m}:")).unwrap_or_default();
        format!("{}  {:<9} {:<18}{member} {}", self.time_text(), self.source.as_str(), self.kind.as_str(), self.message)
    }

    /// The whole event as one JSON line (`watch -o json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Matched by a filter: every word of it appears in the event's text (any case).
    pub fn matches(&self, filter: &str) -> bool {
        let haystack = format!(
            "{} {} {} {} {}",
            self.kind.as_str(),
            self.source.as_str(),
            self.member.as_deref().unwrap_or(""),
            self.message,
            self.details
        )
        .to_lowercase();
        filter.to_lowercase().split_whitespace().all(|word| haystack.contains(word))
    }
}

/// The newest events, oldest first; the oldest go once there are `CAPACITY`.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    events: VecDeque<Event>,
    /// How many were let go to keep the bound.
    pub dropped: u64,
}

impl Timeline {
    pub const CAPACITY: usize = 10_000;

    pub fn push(&mut self, event: Event) {
        if self.events.len() == Self::CAPACITY {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    pub fn extend(&mut self, events: impl IntoIterator<Item = Event>) {
        events.into_iter().for_each(|e| self.push(e));
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().rev()
    }

    /// The Markdown a postmortem takes: a heading naming the cluster, then a table, oldest first,
    /// times in UTC.
    pub fn to_markdown(&self, cluster: &str, exported: SystemTime) -> String {
        let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
        let mut out = format!(
            "# etcd-console timeline: {}\n\nExported {} (times in UTC). {} event(s){}.\n\n",
            cell(cluster),
            humantime::format_rfc3339_seconds(exported),
            self.events.len(),
            if self.dropped > 0 { format!("; the {} oldest were let go", self.dropped) } else { String::new() }
        );
        out.push_str("| Time (UTC) | Source | Kind | Member | What |\n|---|---|---|---|---|\n");
        for e in &self.events {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                e.time_text().replace('T', " ").trim_end_matches('Z'),
                e.source.as_str(),
                e.kind.as_str(),
                cell(e.member.as_deref().unwrap_or("")),
                cell(&e.message)
            ));
        }
        out
    }
}

/// What one member looked like at the last observation.
#[derive(Debug, Clone, PartialEq)]
struct MemberSeen {
    name: String,
    /// Answered the latest round (None: not heard yet).
    up: Option<bool>,
    healthy: bool,
    /// The quota band its DB is in (None: under every threshold).
    band: Option<Severity>,
}

/// What the OpenShift side looked like at the last observation.
#[derive(Debug, Clone, Default)]
struct OpenShiftSeen {
    singletons: BTreeMap<Watched, Value>,
    encryption: Option<Encryption>,
    rollouts: BTreeMap<String, Rollout>,
    /// Pending CSR names, once a first list came.
    pending: Option<BTreeSet<String>>,
    /// Kinds whose watch is failing now.
    lost: BTreeSet<Watched>,
    api_said: Option<String>,
}

/// Turns successive observations into events: only what changed.
#[derive(Debug, Clone, Default)]
pub struct Producer {
    members: BTreeMap<u64, MemberSeen>,
    leader: Option<(u64, String)>,
    alarms: BTreeSet<(u64, &'static str)>,
    disagreements: BTreeSet<String>,
    cluster_seen: bool,
    /// No member answered the last discovery (said once until one does).
    unreachable: bool,
    openshift: OpenShiftSeen,
}

impl Producer {
    pub fn new() -> Producer {
        Producer::default()
    }

    /// What the poller says of reaching the cluster at all (the members' figures come through
    /// [`Producer::on_cluster`]).
    pub fn on_poll(&mut self, event: &PollEvent, wall: SystemTime) -> Vec<Event> {
        match event {
            PollEvent::DiscoveryFailed { error, .. } if !self.unreachable => {
                self.unreachable = true;
                vec![Event::new(
                    wall,
                    Kind::ClusterUnreachable,
                    Source::Etcd,
                    None,
                    format!("no member answered: {}", first_line(error)),
                )
                .with(json!({"error": safe_text(error)}))]
            }
            PollEvent::Members { members, .. } if self.unreachable => {
                self.unreachable = false;
                vec![Event::new(
                    wall,
                    Kind::ClusterReached,
                    Source::Etcd,
                    None,
                    format!("member list read again ({} members)", members.len()),
                )]
            }
            _ => Vec::new(),
        }
    }

    /// Compares the cluster as known now with the last observation.
    pub fn on_cluster(&mut self, cluster: &ClusterState, wall: SystemTime) -> Vec<Event> {
        let mut out = Vec::new();
        let etcd = |kind, member: Option<&str>, message: String| Event::new(wall, kind, Source::Etcd, member, message);
        if cluster.members.is_empty() {
            return out;
        }
        let first = !self.cluster_seen;
        self.cluster_seen = true;
        // Members joining and leaving the list.
        let now_ids: BTreeSet<u64> = cluster.members.iter().map(|m| m.identity.id).collect();
        for (id, seen) in &self.members {
            if !now_ids.contains(id) {
                out.push(
                    etcd(Kind::MemberRemoved, Some(&seen.name), format!("{} left the member list", seen.name))
                        .with(json!({"id": format!("{id:x}")})),
                );
            }
        }
        self.members.retain(|id, _| now_ids.contains(id));
        for m in &cluster.members {
            let name = m.identity.display_name();
            let up = if m.not_heard_yet() { None } else { Some(m.is_up()) };
            let healthy = m.is_healthy();
            let band = m
                .last_status()
                .filter(|_| m.is_up())
                .and_then(|(_, s)| Severity::for_quota_pct(s.quota_pct(cluster.quota_of(m).bytes)));
            let now = MemberSeen { name: name.clone(), up, healthy, band };
            let before = self.members.get(&m.identity.id).cloned();
            if before.is_none() && !first {
                out.push(
                    etcd(Kind::MemberAdded, Some(&name), format!("{name} joined the member list"))
                        .with(json!({"id": format!("{:x}", m.identity.id), "learner": m.is_learner()})),
                );
            }
            let was_up = before.as_ref().and_then(|b| b.up);
            match (was_up, up) {
                (Some(true) | None, Some(false)) => {
                    let why = m.error.as_deref().unwrap_or("no answer");
                    out.push(
                        etcd(Kind::MemberSilent, Some(&name), format!("{name} silent: {}", first_line(why)))
                            .with(json!({"error": safe_text(why)})),
                    );
                }
                (Some(false), Some(true)) => {
                    out.push(etcd(Kind::MemberBack, Some(&name), format!("{name} answers again")));
                }
                _ => {}
            }
            // Health while it answers (a silence is said above).
            if up == Some(true) {
                let was_healthy = before.as_ref().filter(|b| b.up == Some(true)).map(|b| b.healthy);
                if was_healthy.is_some_and(|h| h != healthy) || (was_healthy.is_none() && !healthy) {
                    let message = if healthy {
                        format!("{name} healthy")
                    } else {
                        let why = match &m.health {
                            Some(Err(e)) => first_line(e).to_string(),
                            _ => "an alarm is raised".into(),
                        };
                        format!("{name} unhealthy: {why}")
                    };
                    out.push(etcd(Kind::HealthChanged, Some(&name), message).with(json!({"healthy": healthy})));
                }
                let was_band = before.as_ref().and_then(|b| b.band);
                if band != was_band && (band.is_some() || before.is_some()) {
                    if let Some((_, s)) = m.last_status() {
                        let quota = cluster.quota_of(m).bytes;
                        let pct = s.quota_pct(quota);
                        let band_word = band.map(|b| b.label()).unwrap_or("below 65 %");
                        out.push(
                            etcd(
                                Kind::QuotaCrossed,
                                Some(&name),
                                format!("{name} DB at {pct:.0} % of its quota ({band_word})"),
                            )
                            .with(json!({"db_bytes": s.db_size_bytes, "quota_bytes": quota, "percent": (pct * 10.0).round() / 10.0})),
                        );
                    }
                }
            }
            // A member silent keeps its last band: its figures are old.
            let kept = MemberSeen { band: if up == Some(true) { band } else { before.and_then(|b| b.band) }, ..now };
            self.members.insert(m.identity.id, kept);
        }
        // The leader, with the term it was seen at.
        let term = cluster.members.iter().filter_map(|m| m.current_status()).map(|s| s.raft_term).max();
        match (cluster.leader_id(), &self.leader) {
            (Some(id), before) if before.as_ref().map(|(b, _)| *b) != Some(id) => {
                let to = cluster.name_of(id);
                let from = before.as_ref().map(|(_, name)| name.clone());
                let message = match &from {
                    Some(from) => format!("leader changed from {from} to {to} (term {})", term.unwrap_or(0)),
                    None => format!("leader is {to} (term {})", term.unwrap_or(0)),
                };
                out.push(
                    etcd(Kind::LeaderChanged, Some(&to), message).with(json!({"from": from, "to": to, "term": term})),
                );
                self.leader = Some((id, to));
            }
            (None, Some((_, from))) if cluster.quorum().unknown == 0 => {
                out.push(etcd(Kind::LeaderLost, None, format!("no leader (was {from})")).with(json!({"from": from})));
                self.leader = None;
            }
            _ => {}
        }
        // Alarms, each once per member.
        let alarms: BTreeSet<(u64, &'static str)> =
            cluster.alarms().iter().map(|a| (a.member_id, a.kind.as_str())).collect();
        for (id, kind) in alarms.difference(&self.alarms) {
            let name = cluster.name_of(*id);
            out.push(
                etcd(Kind::AlarmRaised, Some(&name), format!("alarm {kind} raised by {name}"))
                    .with(json!({"alarm": kind})),
            );
        }
        for (id, kind) in self.alarms.difference(&alarms) {
            let name = cluster.name_of(*id);
            out.push(
                etcd(Kind::AlarmCleared, Some(&name), format!("alarm {kind} of {name} cleared"))
                    .with(json!({"alarm": kind})),
            );
        }
        self.alarms = alarms;
        // Members contradicting each other.
        let disagreements: BTreeSet<String> = cluster.disagreements().into_iter().collect();
        for d in disagreements.difference(&self.disagreements) {
            out.push(etcd(Kind::MembersDisagree, None, d.clone()));
        }
        if disagreements.is_empty() && !self.disagreements.is_empty() {
            out.push(etcd(Kind::MembersAgree, None, "the members agree again".into()));
        }
        self.disagreements = disagreements;
        out
    }

    /// What an OpenShift event changes.
    pub fn on_openshift(&mut self, event: &OpenShiftEvent, wall: SystemTime) -> Vec<Event> {
        let mut out = Vec::new();
        let api =
            |kind, member: Option<&str>, message: String| Event::new(wall, kind, Source::Openshift, member, message);
        let seen = &mut self.openshift;
        match event {
            OpenShiftEvent::Connected { server } => {
                out.push(api(Kind::ApiConnected, None, format!("connected to the API at {server}")));
            }
            OpenShiftEvent::Unavailable { error } => {
                if seen.api_said.as_deref() != Some(error.as_str()) {
                    out.push(api(Kind::ApiUnavailable, None, format!("no API: {}", first_line(error))));
                    seen.api_said = Some(error.clone());
                }
            }
            OpenShiftEvent::Trouble { what, error, .. } => {
                if seen.lost.insert(*what) {
                    out.push(
                        api(Kind::ApiLost, None, format!("watch of {} lost: {}", what.label(), first_line(error)))
                            .with(json!({"watch": what.label()})),
                    );
                }
            }
            OpenShiftEvent::Objects { what, objects, .. } => {
                if seen.lost.remove(what) {
                    out.push(
                        api(Kind::ApiBack, None, format!("watch of {} back", what.label()))
                            .with(json!({"watch": what.label()})),
                    );
                }
                if Watched::SINGLETONS.contains(what) {
                    match objects.first() {
                        Some(object) => seen.singletons.insert(*what, object.clone()),
                        None => seen.singletons.remove(what),
                    };
                    out.extend(self.encryption_changes(wall));
                    out.extend(self.rollout_changes(wall));
                }
            }
            OpenShiftEvent::Csrs { pending, .. } => {
                if seen.lost.remove(&Watched::Csrs) {
                    out.push(api(Kind::ApiBack, None, "watch of CSRs back".into()).with(json!({"watch": "CSRs"})));
                }
                out.extend(self.csr_changes(pending, wall));
            }
            OpenShiftEvent::CsrsDecided { approved, denied } => {
                for (names, kind, word) in
                    [(approved, Kind::CsrApproved, "approved"), (denied, Kind::CsrDenied, "denied")]
                {
                    for name in names {
                        out.push(api(kind, None, format!("CSR {name} {word}")).with(json!({"csr": safe_text(name)})));
                    }
                }
            }
            OpenShiftEvent::Done { .. } | OpenShiftEvent::NotServed { .. } | OpenShiftEvent::MayApprove(_) => {}
        }
        out
    }

    fn encryption_changes(&mut self, wall: SystemTime) -> Vec<Event> {
        let seen = &mut self.openshift;
        let Some(now) = encryption_of(|what| seen.singletons.get(&what)) else { return Vec::new() };
        let mut out = Vec::new();
        let event = |message: String, details: Value| {
            Event::new(wall, Kind::EncryptionPhase, Source::Openshift, None, message).with(details)
        };
        let before = seen.encryption.take();
        if before.as_ref().is_some_and(|b| b.kind != now.kind) {
            out.push(event(
                format!("encryption type set to {}", now.kind),
                json!({"type": now.kind, "from": before.as_ref().map(|b| b.kind.clone())}),
            ));
        }
        for c in &now.conditions {
            let was = before.as_ref().and_then(|b| b.conditions.iter().find(|w| w.resource == c.resource));
            // At first sight only a migration under way is news; after that, every change.
            let changed = match was {
                None => c.reason.ends_with("InProgress"),
                Some(w) => w.reason != c.reason || w.status != c.status,
            };
            if changed {
                let done = now.done();
                out.push(event(
                    format!(
                        "{} Encrypted={} {} ({done} of {} operators done, type {})",
                        c.resource,
                        c.status,
                        c.reason,
                        now.conditions.len(),
                        now.kind
                    ),
                    json!({"operator": c.resource, "status": c.status, "reason": c.reason, "message": c.message, "type": now.kind}),
                ));
            }
        }
        seen.encryption = Some(now);
        out
    }

    fn rollout_changes(&mut self, wall: SystemTime) -> Vec<Event> {
        let seen = &mut self.openshift;
        let mut out = Vec::new();
        for now in rollouts_of(|what| seen.singletons.get(&what)) {
            if !now.status_reported {
                continue;
            }
            let op = now.operator.clone();
            let event = |kind, member: Option<&str>, message: String, details: Value| {
                Event::new(wall, kind, Source::Openshift, member, message).with(details)
            };
            let at_latest = |r: &Rollout| r.nodes.iter().filter(|n| n.current_revision >= r.latest_revision).count();
            let total = now.nodes.len();
            let done = at_latest(&now);
            match seen.rollouts.get(&op) {
                None => {
                    if done < total {
                        out.push(event(
                            Kind::RolloutBegun,
                            None,
                            format!("{op} rolling out revision {}: {done} of {total} nodes", now.latest_revision),
                            json!({"operator": op, "revision": now.latest_revision, "done": done, "total": total}),
                        ));
                    }
                }
                Some(before) => {
                    if now.latest_revision > before.latest_revision {
                        out.push(event(
                            Kind::RolloutBegun,
                            None,
                            format!("{op} rolling out revision {}: {done} of {total} nodes", now.latest_revision),
                            json!({"operator": op, "revision": now.latest_revision, "from": before.latest_revision, "done": done, "total": total}),
                        ));
                    }
                    for node in &now.nodes {
                        let was = before.nodes.iter().find(|b| b.name == node.name);
                        let reached = node.current_revision >= now.latest_revision
                            && was.is_some_and(|w| w.current_revision < now.latest_revision);
                        if reached && now.latest_revision > 0 {
                            out.push(event(
                                Kind::RolloutNodeDone,
                                Some(&node.name),
                                format!(
                                    "{op}: {} at revision {} ({done} of {total} nodes)",
                                    node.name, node.current_revision
                                ),
                                json!({"operator": op, "node": node.name, "revision": node.current_revision, "done": done, "total": total}),
                            ));
                        }
                        let failed_before = was.and_then(|w| w.last_failed_revision);
                        if let Some(failed) = node.last_failed_revision.filter(|f| Some(*f) != failed_before) {
                            out.push(event(
                                Kind::RolloutFailed,
                                Some(&node.name),
                                format!("{op}: revision {failed} failed on {}", node.name),
                                json!({"operator": op, "node": node.name, "revision": failed}),
                            ));
                        }
                    }
                    if done == total && total > 0 && at_latest(before) < before.nodes.len() {
                        out.push(event(
                            Kind::RolloutFinished,
                            None,
                            format!("{op}: every node at revision {}", now.latest_revision),
                            json!({"operator": op, "revision": now.latest_revision, "total": total}),
                        ));
                    }
                }
            }
            seen.rollouts.insert(op, now);
        }
        out
    }

    fn csr_changes(&mut self, pending: &[PendingCsr], wall: SystemTime) -> Vec<Event> {
        let now: BTreeSet<String> = pending.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::new();
        let seen = &mut self.openshift;
        match &seen.pending {
            // The first list: one line for what waits, not one per CSR.
            None if !now.is_empty() => {
                let unexpected = pending.iter().filter(|c| !c.class.is_valid()).count();
                out.push(
                    Event::new(
                        wall,
                        Kind::CsrFiled,
                        Source::Openshift,
                        None,
                        format!("{} CSR(s) pending ({unexpected} unexpected)", now.len()),
                    )
                    .with(json!({"pending": now.len(), "unexpected": unexpected})),
                );
            }
            None => {}
            Some(before) => {
                let filed: Vec<&PendingCsr> = pending.iter().filter(|c| !before.contains(&c.name)).collect();
                // A flood is one line, not thousands.
                if filed.len() > 20 {
                    out.push(
                        Event::new(
                            wall,
                            Kind::CsrFiled,
                            Source::Openshift,
                            None,
                            format!("{} CSRs filed", filed.len()),
                        )
                        .with(json!({"count": filed.len()})),
                    );
                } else {
                    for c in filed {
                        out.push(
                            Event::new(
                                wall,
                                Kind::CsrFiled,
                                Source::Openshift,
                                c.node.as_deref(),
                                format!("CSR {} filed by {} ({})", c.name, c.requestor, c.class.as_str()),
                            )
                            .with(json!({"csr": safe_text(&c.name), "class": c.class.as_str(), "requestor": safe_text(&c.requestor)})),
                        );
                    }
                }
            }
        }
        seen.pending = Some(now);
        out
    }
}

/// An action taken here: who, what, and (once known) how it ended.
pub fn action(wall: SystemTime, who: &str, what: &str, member: Option<&str>) -> Event {
    Event::new(wall, Kind::Action, Source::Console, member, format!("{who}: {what}"))
        .with(json!({"who": safe_text(who)}))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests;
