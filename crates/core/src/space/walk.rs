//! The live reading's walk over the keyspace, as a pure state machine: it says
//! which range to ask for next and takes the answers; `live` sends them.
//!
//! The walk never lists the keys. It asks for pages of a few keys (values
//! included: they are the sample the bytes are estimated from), each with the
//! `count` etcd gives of every key in the page's range, at one pinned
//! revision:
//!
//! 1. a count-only range over the whole keyspace: the total, and the revision
//!    every later page is read at;
//! 2. resources: a page from the cursor to the end. Its first key names a
//!    group (its `place` prefix, e.g. `/kubernetes.io/events/`); the next page
//!    starts where that prefix ends. The group's count is the difference of
//!    the two pages' counts (the range between the cursors holds its keys and
//!    no other). Groups that end inside a page are counted there, so a run of
//!    small resources costs one request;
//! 3. namespaces, for the resources holding the most bytes: the same walk
//!    inside the resource's prefix, grouping by the key's path up to its name.
//!
//! A page's count costs etcd an index walk over its range (no values read);
//! the values read are the pages' few keys.

use std::collections::BTreeMap;

use crate::backup::analyze::place;

/// How far the walk goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOptions {
    /// Keys per page: the sample taken where each group starts.
    pub page: usize,
    /// How many resources (the most bytes first) are broken down by namespace.
    pub breakdown: usize,
    /// Namespaces walked per resource; the rest are counted together.
    pub max_namespaces: usize,
    /// Requests per reading; the walk stops there, its reading marked partial.
    pub max_requests: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { page: 8, breakdown: 5, max_namespaces: 200, max_requests: 3000 }
    }
}

/// The next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Count-only over every key; its header's revision pins the walk.
    Total,
    /// At most `limit` keys with their values from `from` up to `end` (empty: the end of the
    /// keyspace), at `revision`, with the count of every key in that range.
    Page { from: Vec<u8>, end: Vec<u8>, limit: usize, revision: i64 },
}

/// A key a page returned and the bytes its record takes (see `record_bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub key: Vec<u8>,
    pub bytes: u64,
}

/// What a page answered: the count of its whole range and its first keys, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAnswer {
    pub count: u64,
    pub kvs: Vec<Seen>,
}

/// Keys of a group and the sample of them read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub keys: u64,
    pub sampled: u64,
    pub sampled_bytes: u64,
}

impl Tally {
    fn sample(&mut self, bytes: u64) {
        self.sampled += 1;
        self.sampled_bytes += bytes;
    }

    /// Its bytes: the sample's when every key was read, else the keys times the sample's mean.
    pub fn bytes(&self) -> u64 {
        if self.sampled == 0 {
            0
        } else if self.sampled >= self.keys {
            self.sampled_bytes
        } else {
            (u128::from(self.keys) * u128::from(self.sampled_bytes) / u128::from(self.sampled)) as u64
        }
    }

    pub fn exact(&self) -> bool {
        self.sampled >= self.keys
    }
}

/// A resource as walked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTally {
    pub prefix: Vec<u8>,
    pub resource: Vec<u8>,
    pub tally: Tally,
    /// By namespace name: from the resource's own sample, replaced by its walk when it had one.
    pub namespaces: BTreeMap<Vec<u8>, Tally>,
    /// Its namespaces were walked (the counts are whole, not the sample's).
    pub walked: bool,
    /// Keys of the namespaces the walk did not reach (more than `max_namespaces`), and how many
    /// of them there were is not known.
    pub rest: Option<u64>,
}

impl ResourceTally {
    /// Its bytes: the sum of its namespaces' when they were walked (each from its own sample).
    pub fn bytes(&self) -> u64 {
        if !self.walked {
            return self.tally.bytes();
        }
        let mean = |t: &Tally| t.sampled_bytes.checked_div(t.sampled).unwrap_or(0);
        let all = self.namespaces.values().fold(Tally::default(), |mut all, t| {
            all.sampled += t.sampled;
            all.sampled_bytes += t.sampled_bytes;
            all
        });
        let rest = self.rest.unwrap_or(0) * mean(&all);
        self.namespaces.values().map(Tally::bytes).sum::<u64>() + rest
    }

    pub fn sampled(&self) -> u64 {
        if self.walked {
            self.namespaces.values().map(|t| t.sampled).sum()
        } else {
            self.tally.sampled
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Total,
    Resources,
    /// Walking the namespaces of `resources[index]`.
    Namespaces {
        index: usize,
    },
    Done,
}

/// The group still being counted: the keys from its first one to the end of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    group: Vec<u8>,
    from_first: u64,
}

#[derive(Debug, Clone)]
pub struct Walk {
    options: WalkOptions,
    phase: Phase,
    revision: i64,
    total: u64,
    requests: u64,
    cursor: Vec<u8>,
    end: Vec<u8>,
    open: Option<Open>,
    resources: Vec<ResourceTally>,
    /// The namespaces of the resource being walked.
    walking: BTreeMap<Vec<u8>, Tally>,
    /// Resources to break down still, by index, the most bytes first.
    queue: Vec<usize>,
    partial: Option<String>,
}

/// The first key after every key that starts with `prefix` (empty: none, the end of the keyspace).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

/// The bytes a key's record takes in the member's `key` bucket, as `snapshot analyze` counts
/// them: the 17-byte revision key and the encoded `mvccpb.KeyValue`.
pub fn record_bytes(key: usize, value: usize, create: i64, modified: i64, version: i64, lease: i64) -> u64 {
    fn varint(value: u64) -> usize {
        (64 - value.max(1).leading_zeros() as usize).div_ceil(7)
    }
    let field = |len: usize| if len == 0 { 0 } else { 1 + varint(len as u64) + len };
    let number = |n: i64| if n == 0 { 0 } else { 1 + varint(n as u64) };
    (17 + field(key) + number(create) + number(modified) + number(version) + field(value) + number(lease)) as u64
}

/// The group a key starts in this phase, and the range that holds that group alone.
fn group_of(key: &[u8], within: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let prefix: &[u8] = match within {
        None => place(key).prefix,
        // A namespaced key's path up to its name; a key straight under the resource stands alone.
        Some(resource) => match key.iter().rposition(|b| *b == b'/') {
            Some(last) if last + 1 > resource.len() => &key[..=last],
            _ => b"",
        },
    };
    if prefix.is_empty() {
        // A key outside any prefix: the range holding it alone; such keys share one group.
        let mut next = key.to_vec();
        next.push(0);
        (Vec::new(), next)
    } else {
        (prefix.to_vec(), prefix_end(prefix))
    }
}

/// A namespace group's name: the path segment before the name.
fn namespace_name(group: &[u8]) -> Vec<u8> {
    let trimmed = group.strip_suffix(b"/").unwrap_or(group);
    match trimmed.iter().rposition(|b| *b == b'/') {
        Some(at) => trimmed[at + 1..].to_vec(),
        None => trimmed.to_vec(),
    }
}

impl Walk {
    pub fn new(options: WalkOptions) -> Walk {
        Walk {
            options,
            phase: Phase::Total,
            revision: 0,
            total: 0,
            requests: 0,
            cursor: Vec::new(),
            end: Vec::new(),
            open: None,
            resources: Vec::new(),
            walking: BTreeMap::new(),
            queue: Vec::new(),
            partial: None,
        }
    }

    /// The request to send next; None once the walk is done.
    pub fn next_ask(&mut self) -> Option<Ask> {
        if self.phase == Phase::Done {
            return None;
        }
        if self.requests >= self.options.max_requests {
            self.fail(format!(
                "stopped after {} requests (--max-requests): the figures cover what was read",
                self.requests
            ));
            return None;
        }
        if matches!(self.phase, Phase::Namespaces { .. }) && self.walking.len() > self.options.max_namespaces {
            // Enough namespaces of this resource: the others are counted together.
            self.finish_namespaces();
            self.start_next_breakdown();
            return self.next_ask();
        }
        Some(match self.phase {
            Phase::Total => Ask::Total,
            _ => Ask::Page {
                from: self.cursor.clone(),
                end: self.end.clone(),
                limit: self.options.page.max(1),
                revision: self.revision,
            },
        })
    }

    /// The answer to `Ask::Total`: every key's count, at the revision the rest is read at.
    pub fn answer_total(&mut self, count: u64, revision: i64) {
        self.requests += 1;
        self.total = count;
        self.revision = revision;
        self.phase = Phase::Resources;
        self.cursor = vec![0];
        self.end = Vec::new();
        if count == 0 {
            self.phase = Phase::Done;
        }
    }

    /// The answer to `Ask::Page`.
    pub fn answer_page(&mut self, page: PageAnswer) {
        self.requests += 1;
        let within = match self.phase {
            Phase::Namespaces { index } => self.resources.get(index).map(|r| r.prefix.clone()),
            _ => None,
        };
        // The group left open by the last page: its keys end where this page's range begins.
        if let Some(open) = self.open.take() {
            let keys = open.from_first.saturating_sub(page.count);
            self.tally(&open.group).keys += keys;
        }
        let full = page.kvs.len() >= self.options.page.max(1);
        let mut before = 0u64;
        let mut i = 0;
        let mut next_cursor = None;
        while i < page.kvs.len() {
            let (group, group_end) = group_of(&page.kvs[i].key, within.as_deref());
            let mut j = i;
            while j < page.kvs.len() && page.kvs[j].key.as_slice() < group_end.as_slice() {
                j += 1;
            }
            if within.is_none() && self.tally_index(&group).is_none() {
                let place = place(&page.kvs[i].key);
                self.resources.push(ResourceTally {
                    prefix: group.clone(),
                    resource: if group.is_empty() { Vec::new() } else { place.resource.to_vec() },
                    ..ResourceTally::default()
                });
            }
            for seen in &page.kvs[i..j] {
                self.tally(&group).sample(seen.bytes);
                if within.is_none() {
                    // The sample's namespaces stand until a walk counts them.
                    if let Some(namespace) = place(&seen.key).namespace {
                        if let Some(r) = self.tally_index(&group).and_then(|at| self.resources.get_mut(at)) {
                            let t = r.namespaces.entry(namespace.to_vec()).or_default();
                            t.keys += 1;
                            t.sample(seen.bytes);
                        }
                    }
                }
            }
            let in_page = (j - i) as u64;
            if j == page.kvs.len() && full {
                // The page's last group may go on past it: counted with the next page.
                self.open = Some(Open { group, from_first: page.count.saturating_sub(before) });
                next_cursor = Some(group_end);
            } else {
                self.tally(&group).keys += in_page;
            }
            before += in_page;
            i = j;
        }
        match next_cursor {
            Some(cursor) if !cursor.is_empty() && (self.end.is_empty() || cursor < self.end) => self.cursor = cursor,
            Some(_) => {
                // The group runs to the end of the range: all its keys are from its first on.
                if let Some(open) = self.open.take() {
                    self.tally(&open.group).keys += open.from_first;
                }
                self.end_of_range();
            }
            None => self.end_of_range(),
        }
    }

    /// Gives up on this reading with `reason` (an error from etcd): what was read stands.
    pub fn fail(&mut self, reason: String) {
        self.partial = Some(reason);
        if let (Phase::Resources, Some(open)) = (&self.phase, self.open.take()) {
            // Its count is not known: at least the keys sampled.
            let tally = self.tally(&open.group);
            tally.keys = tally.keys.max(tally.sampled);
        }
        self.finish_namespaces();
        self.phase = Phase::Done;
    }

    fn end_of_range(&mut self) {
        match self.phase {
            Phase::Resources => {
                let mut order: Vec<usize> = (0..self.resources.len())
                    .filter(|at| {
                        let r = &self.resources[*at];
                        !r.tally.exact() && !r.namespaces.is_empty()
                    })
                    .collect();
                order.sort_by_key(|at| std::cmp::Reverse(self.resources[*at].bytes()));
                order.truncate(self.options.breakdown);
                order.reverse();
                self.queue = order;
            }
            Phase::Namespaces { .. } => self.finish_namespaces(),
            _ => {}
        }
        self.start_next_breakdown();
    }

    /// The namespaces walked so far become the resource's (the rest counted together).
    fn finish_namespaces(&mut self) {
        if let Phase::Namespaces { index } = self.phase {
            let mut walking = std::mem::take(&mut self.walking);
            if let Some(open) = self.open.take() {
                // Its count is not known: its keys go with the rest.
                walking.remove(&self.namespace_key(&open.group));
            }
            if let Some(r) = self.resources.get_mut(index) {
                let counted: u64 = walking.values().map(|t| t.keys).sum();
                r.rest = (counted < r.tally.keys).then(|| r.tally.keys - counted);
                r.namespaces = walking;
                r.walked = true;
            }
        }
    }

    fn start_next_breakdown(&mut self) {
        self.open = None;
        match self.queue.pop() {
            Some(index) => {
                let prefix = self.resources[index].prefix.clone();
                self.phase = Phase::Namespaces { index };
                self.end = prefix_end(&prefix);
                self.cursor = prefix;
            }
            None => self.phase = Phase::Done,
        }
    }

    fn namespace_key(&self, group: &[u8]) -> Vec<u8> {
        if group.is_empty() {
            Vec::new()
        } else {
            namespace_name(group)
        }
    }

    fn tally_index(&self, group: &[u8]) -> Option<usize> {
        // Groups come in key order: the one asked for is almost always the last.
        self.resources.iter().rposition(|r| r.prefix == group)
    }

    /// The tally of a group of this phase (created when new).
    fn tally(&mut self, group: &[u8]) -> &mut Tally {
        if let Phase::Namespaces { .. } = self.phase {
            let name = self.namespace_key(group);
            return self.walking.entry(name).or_default();
        }
        let at = match self.tally_index(group) {
            Some(at) => at,
            None => {
                self.resources.push(ResourceTally { prefix: group.to_vec(), ..ResourceTally::default() });
                self.resources.len() - 1
            }
        };
        &mut self.resources[at].tally
    }

    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn partial(&self) -> Option<&str> {
        self.partial.as_deref()
    }

    /// The resources as walked so far (in key order).
    pub fn resources(&self) -> &[ResourceTally] {
        &self.resources
    }

    /// What the walk is doing, for a progress line.
    pub fn doing(&self) -> String {
        match &self.phase {
            Phase::Total => "counting every key".into(),
            Phase::Resources => format!("resources: {} found", self.resources.len()),
            Phase::Namespaces { index } => format!(
                "namespaces of {}: {} so far",
                String::from_utf8_lossy(self.resources.get(*index).map(|r| r.resource.as_slice()).unwrap_or_default()),
                self.walking.len()
            ),
            Phase::Done => "done".into(),
        }
    }
}
