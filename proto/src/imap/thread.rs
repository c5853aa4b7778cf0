//! SORT and THREAD (RFC 5256, with DISPLAYFROM/DISPLAYTO of RFC 5957) over facts the server
//! gathers for each message: the base subject, the order of sort keys, the REFERENCES and
//! ORDEREDSUBJECT threading algorithms and the `* THREAD` list they answer with. Nothing here
//! reads a message; everything is bounded by the number of messages given.

use super::search::{SortBy, SortKey};
use std::cmp::Ordering;
use std::collections::HashMap;

/// A subject with reply and forward markers removed (RFC 5256 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    /// The base subject: white space collapsed, markers removed, case kept.
    pub text: String,
    /// Whether a `Re:`/`Fw:`/`Fwd:` leader, a `(fwd)` trailer or a `[fwd: …]` wrapper was
    /// removed (the message is a reply or a forward).
    pub reply: bool,
}

/// The base subject of a decoded subject (RFC 5256 §2.1).
pub fn base_subject(subject: &str) -> BaseSubject {
    // (1) White space of any kind collapsed to one space.
    let mut s = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply = false;
    loop {
        // (2) Trailers: "(fwd)" and white space.
        loop {
            let t = s.trim_end();
            if let Some(head) = strip_suffix_ci(t, "(fwd)") {
                reply = true;
                s = head.to_string();
            } else {
                s.truncate(t.len());
                break;
            }
        }
        // (3) and (4), until neither removes anything.
        loop {
            let before = s.len();
            // (3) Leaders: white space, or blobs followed by "re", "fw" or "fwd" with an
            // optional blob and a colon.
            loop {
                let t = s.trim_start();
                if let Some(rest) = refwd_leader(t) {
                    reply = true;
                    s = rest.to_string();
                } else {
                    s = t.to_string();
                    break;
                }
            }
            // (4) A leading blob, when something is left after it.
            if let Some(rest) = blob(&s)
                && !rest.is_empty()
            {
                s = rest.to_string();
            }
            if s.len() == before {
                break;
            }
        }
        // (5) A "[fwd: …]" wrapper, then again from (2).
        if s.len() >= 6
            && s.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("[fwd:"))
            && s.ends_with(']')
        {
            reply = true;
            s = s[5..s.len() - 1].to_string();
            continue;
        }
        break;
    }
    BaseSubject { text: s, reply }
}

fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let at = s.len().checked_sub(p.len())?;
    s.get(at..)?
        .eq_ignore_ascii_case(p)
        .then(|| s.get(..at))
        .flatten()
}

/// `[blob]` and the white space after it → the rest.
fn blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let close = rest.find([']', '['])?;
    (rest.as_bytes()[close] == b']').then(|| rest[close + 1..].trim_start())
}

/// `*blob ("re" / "fw" / "fwd") *WSP [blob] ":"` at the start → the rest.
fn refwd_leader(s: &str) -> Option<&str> {
    let mut t = s;
    while let Some(rest) = blob(t) {
        t = rest;
    }
    let lower = t.get(..3).unwrap_or(t).to_ascii_lowercase();
    let n = if lower.starts_with("re") {
        2
    } else if lower.starts_with("fwd") {
        3
    } else if lower.starts_with("fw") {
        2
    } else {
        return None;
    };
    let mut t = t[n..].trim_start();
    if let Some(rest) = blob(t) {
        t = rest;
    }
    t.strip_prefix(':')
}

/// What SORT compares for one message. Strings are compared as given: callers pass them
/// through [`casemap`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortFacts {
    /// The message sequence number (the final tie-breaker).
    pub seq: u64,
    /// INTERNALDATE, milliseconds since the epoch (finer than IMAP shows it, so mail
    /// delivered within one second still sorts in arrival order).
    pub arrival: i64,
    /// The sent date in UTC (the Date header, or INTERNALDATE without one), seconds.
    pub date: i64,
    /// RFC822.SIZE.
    pub size: u64,
    /// The local part of the first From address (for a group, its name).
    pub from: String,
    /// The local part of the first To address.
    pub to: String,
    /// The local part of the first Cc address.
    pub cc: String,
    /// The base subject.
    pub subject: String,
    /// The first From address's display name, or its address without one (RFC 5957).
    pub display_from: String,
    /// The first To address's display name, or its address without one.
    pub display_to: String,
}

/// The comparison form of a sort string: `i;ascii-casemap` (ASCII letters upper-cased).
pub fn casemap(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// Sorts messages by the criteria; ties go to the lower sequence number.
pub fn sort(facts: &mut [SortFacts], criteria: &[SortKey]) {
    facts.sort_by(|a, b| {
        for k in criteria {
            let o = match k.by {
                SortBy::Arrival => a.arrival.cmp(&b.arrival),
                SortBy::Date => a.date.cmp(&b.date),
                SortBy::Size => a.size.cmp(&b.size),
                SortBy::From => a.from.cmp(&b.from),
                SortBy::To => a.to.cmp(&b.to),
                SortBy::Cc => a.cc.cmp(&b.cc),
                SortBy::Subject => a.subject.cmp(&b.subject),
                SortBy::DisplayFrom => a.display_from.cmp(&b.display_from),
                SortBy::DisplayTo => a.display_to.cmp(&b.display_to),
            };
            let o = if k.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.seq.cmp(&b.seq)
    });
}

/// What THREAD needs of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadFacts {
    /// The number written in the answer (a sequence number, or a UID for UID THREAD).
    pub number: u64,
    /// The sequence number (orders messages with the same date).
    pub seq: u64,
    /// The sent date in UTC, seconds.
    pub date: i64,
    /// The decoded subject.
    pub subject: String,
    /// Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The References, oldest first; without a References field, the first In-Reply-To.
    pub references: Vec<String>,
}

/// A thread: a message (or, for a dummy that holds siblings together, none) and its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// The message's number; `None` for a dummy.
    pub number: Option<u64>,
    /// The threads below it, in order.
    pub children: Vec<Thread>,
}

/// THREAD=ORDEREDSUBJECT: messages grouped by base subject, each group's first message (by
/// sent date) the parent of the rest; groups ordered by their first message's date.
pub fn ordered_subject(msgs: &[ThreadFacts]) -> Vec<Thread> {
    let mut order: Vec<(String, i64, u64, u64)> = msgs
        .iter()
        .map(|m| (subject_key(&m.subject), m.date, m.seq, m.number))
        .collect();
    order.sort();
    let mut threads: Vec<(i64, u64, Thread)> = Vec::new();
    let mut last: Option<&str> = None;
    for (subject, date, seq, number) in &order {
        let leaf = Thread {
            number: Some(*number),
            children: Vec::new(),
        };
        match threads.last_mut() {
            Some((_, _, t)) if last == Some(subject.as_str()) => t.children.push(leaf),
            _ => threads.push((*date, *seq, leaf)),
        }
        last = Some(subject);
    }
    threads.sort_by_key(|(date, seq, _)| (*date, *seq));
    threads.into_iter().map(|(_, _, t)| t).collect()
}

fn subject_key(subject: &str) -> String {
    base_subject(subject).text.to_lowercase()
}

/// Replies nested deeper than this start a thread of their own (every walk over a thread is
/// then bounded, whatever a mailbox holds).
pub const MAX_THREAD_DEPTH: usize = 256;

/// One container of the REFERENCES algorithm.
#[derive(Default)]
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Tree<'a> {
    msgs: &'a [ThreadFacts],
    nodes: Vec<Node>,
}

impl Tree<'_> {
    fn new_node(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// Whether `a` is `b` or lies below it.
    fn is_under(&self, mut a: usize, b: usize) -> bool {
        loop {
            if a == b {
                return true;
            }
            match self.nodes[a].parent {
                Some(p) => a = p,
                None => return false,
            }
        }
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|c| *c != child);
        }
    }

    /// How many containers lie above `n`, counted up to [`MAX_THREAD_DEPTH`].
    fn depth(&self, mut n: usize) -> usize {
        let mut d = 0;
        while let Some(p) = self.nodes[n].parent
            && d < MAX_THREAD_DEPTH
        {
            n = p;
            d += 1;
        }
        d
    }

    /// Links `parent` → `child` unless that would close a loop or nest deeper than
    /// [`MAX_THREAD_DEPTH`].
    fn link(&mut self, parent: usize, child: usize) -> bool {
        if self.is_under(parent, child)
            || self.is_under(child, parent)
            || self.depth(parent) + 1 >= MAX_THREAD_DEPTH
        {
            return false;
        }
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
        true
    }

    /// The message a container sorts and is named by: its own, or (for a dummy) its first
    /// child's.
    fn lead(&self, n: usize) -> Option<usize> {
        match self.nodes[n].msg {
            Some(m) => Some(m),
            None => self.nodes[n].children.first().and_then(|c| self.lead(*c)),
        }
    }

    fn sort_key(&self, n: usize) -> (i64, u64) {
        self.lead(n).map_or((i64::MAX, u64::MAX), |m| {
            (self.msgs[m].date, self.msgs[m].seq)
        })
    }

    fn sort_siblings(&self, list: &mut [usize]) {
        list.sort_by_key(|n| self.sort_key(*n));
    }

    /// Sorts every set of siblings below `n`, deepest first.
    fn sort_below(&mut self, n: usize) {
        let mut children = std::mem::take(&mut self.nodes[n].children);
        for c in &children {
            self.sort_below(*c);
        }
        self.sort_siblings(&mut children);
        self.nodes[n].children = children;
    }

    /// Step 4: dummies without children go, dummies with children give way to them (at the
    /// top level only when they hold a single child). `parent` is the list's parent.
    fn prune(&mut self, list: Vec<usize>, top: bool, parent: Option<usize>) -> Vec<usize> {
        let mut out = Vec::with_capacity(list.len());
        for n in list {
            let children = std::mem::take(&mut self.nodes[n].children);
            let children = self.prune(children, false, Some(n));
            if self.nodes[n].msg.is_none() && (!top || children.len() <= 1) {
                for c in &children {
                    self.nodes[*c].parent = parent;
                }
                out.extend(children);
            } else {
                self.nodes[n].children = children;
                out.push(n);
            }
        }
        out
    }

    fn thread_at(&self, n: usize) -> Thread {
        Thread {
            number: self.nodes[n].msg.map(|m| self.msgs[m].number),
            children: self.nodes[n]
                .children
                .iter()
                .map(|c| self.thread_at(*c))
                .collect(),
        }
    }
}

/// THREAD=REFERENCES (RFC 5256 §3, after Jamie Zawinski's algorithm): replies below what they
/// reference, then top-level threads with the same base subject gathered together.
pub fn references(msgs: &[ThreadFacts]) -> Vec<Thread> {
    let mut t = Tree {
        msgs,
        nodes: Vec::with_capacity(msgs.len() * 2),
    };
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        // (1A) The message's own container: by Message-ID unless it has none or another
        // message already took it.
        let own = match m.message_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => match ids.get(id) {
                Some(&n) if t.nodes[n].msg.is_none() => n,
                Some(_) => t.new_node(),
                None => {
                    let n = t.new_node();
                    ids.insert(id, n);
                    n
                }
            },
            None => t.new_node(),
        };
        t.nodes[own].msg = Some(i);
        // (1B) Each reference the parent of the next, where no link exists yet.
        let mut prev: Option<usize> = None;
        for r in m.references.iter().filter(|r| !r.is_empty()) {
            let n = match ids.get(r.as_str()) {
                Some(&n) => n,
                None => {
                    let n = t.new_node();
                    ids.insert(r.as_str(), n);
                    n
                }
            };
            if let Some(p) = prev
                && t.nodes[n].parent.is_none()
            {
                t.link(p, n);
            }
            prev = Some(n);
        }
        // (1C) The last reference is the message's parent, replacing any guessed one.
        t.unlink(own);
        if let Some(p) = prev {
            t.link(p, own);
        }
    }
    // (2) The root set, (4) pruned.
    let roots: Vec<usize> = (0..t.nodes.len())
        .filter(|n| t.nodes[*n].parent.is_none())
        .collect();
    let mut roots = t.prune(roots, true, None);
    // (5A) Sorted by date, each dummy by its first child after sorting those.
    for r in &roots {
        if t.nodes[*r].msg.is_none() {
            let mut c = std::mem::take(&mut t.nodes[*r].children);
            t.sort_siblings(&mut c);
            t.nodes[*r].children = c;
        }
    }
    t.sort_siblings(&mut roots);
    // (5B) Top-level threads with the same base subject gathered.
    let subject_of = |t: &Tree<'_>, n: usize| -> Option<(String, bool)> {
        let m = t.lead(n)?;
        let b = base_subject(&msgs[m].subject);
        (!b.text.is_empty()).then(|| (b.text.to_lowercase(), b.reply))
    };
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in &roots {
        let Some((subject, _)) = subject_of(&t, r) else {
            continue;
        };
        match table.get(&subject) {
            None => {
                table.insert(subject, r);
            }
            Some(&old) => {
                let old_dummy = t.nodes[old].msg.is_none();
                let old_reply = subject_of(&t, old).is_some_and(|(_, reply)| reply);
                let cur_dummy = t.nodes[r].msg.is_none();
                let cur_reply = subject_of(&t, r).is_some_and(|(_, reply)| reply);
                if !old_dummy && (cur_dummy || (old_reply && !cur_reply)) {
                    table.insert(subject, r);
                }
            }
        }
    }
    let mut slots: Vec<Option<usize>> = roots.iter().copied().map(Some).collect();
    let position: HashMap<usize, usize> = roots.iter().enumerate().map(|(i, r)| (*r, i)).collect();
    let mut position = position;
    for i in 0..slots.len() {
        let Some(cur) = slots[i] else { continue };
        let Some((subject, cur_reply)) = subject_of(&t, cur) else {
            continue;
        };
        let Some(&old) = table.get(&subject) else {
            continue;
        };
        if old == cur {
            continue;
        }
        let old_dummy = t.nodes[old].msg.is_none();
        let cur_dummy = t.nodes[cur].msg.is_none();
        let old_reply = subject_of(&t, old).is_some_and(|(_, reply)| reply);
        if old_dummy && cur_dummy {
            for c in std::mem::take(&mut t.nodes[cur].children) {
                t.nodes[c].parent = Some(old);
                t.nodes[old].children.push(c);
            }
        } else if old_dummy || (cur_reply && !old_reply) {
            t.nodes[cur].parent = Some(old);
            t.nodes[old].children.push(cur);
        } else {
            let d = t.new_node();
            for n in [old, cur] {
                t.nodes[n].parent = Some(d);
                t.nodes[d].children.push(n);
            }
            let at = position[&old];
            slots[at] = Some(d);
            position.insert(d, at);
            table.insert(subject, d);
        }
        slots[i] = None;
    }
    // (6) Every set of siblings sorted, the deepest first; then the threads themselves.
    let mut roots: Vec<usize> = slots.into_iter().flatten().collect();
    for r in &roots {
        t.sort_below(*r);
    }
    t.sort_siblings(&mut roots);
    roots.iter().map(|r| t.thread_at(*r)).collect()
}

/// Writes threads as the `* THREAD` response lists them (after `* THREAD`, without the line
/// end): `(1 2 (3)(4 5))(6)`.
pub fn write_threads(out: &mut Vec<u8>, threads: &[Thread]) {
    for t in threads {
        out.push(b'(');
        write_members(out, t);
        out.push(b')');
    }
}

fn write_members(out: &mut Vec<u8>, t: &Thread) {
    let mut t = t;
    let mut first = true;
    // A chain of single replies is written flat; siblings are each parenthesised.
    loop {
        if let Some(n) = t.number {
            if !first {
                out.push(b' ');
            }
            out.extend_from_slice(n.to_string().as_bytes());
            first = false;
        }
        match t.children.as_slice() {
            [] => return,
            [only] if t.number.is_some() => t = only,
            many => {
                if !first {
                    out.push(b' ');
                }
                for c in many {
                    out.push(b'(');
                    write_members(out, c);
                    out.push(b')');
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> (String, bool) {
        let b = base_subject(s);
        (b.text, b.reply)
    }

    #[test]
    fn base_subjects_as_rfc_5256_extracts_them() {
        assert_eq!(base("Re: hello"), ("hello".into(), true));
        assert_eq!(
            base("RE:  Fwd:\thello   world"),
            ("hello world".into(), true)
        );
        assert_eq!(base("Re[2]: hello"), ("hello".into(), true));
        assert_eq!(base("[list] Re: hello"), ("hello".into(), true));
        assert_eq!(base("[list] hello"), ("hello".into(), false));
        assert_eq!(base("[list]"), ("[list]".into(), false));
        assert_eq!(base("hello (fwd) (FWD)"), ("hello".into(), true));
        assert_eq!(base("[Fwd: Re: hello]"), ("hello".into(), true));
        assert_eq!(base("Fw : hello"), ("hello".into(), true));
        assert_eq!(base("Reply: hello"), ("Reply: hello".into(), false));
        assert_eq!(base("Re hello"), ("Re hello".into(), false));
        assert_eq!(base(""), (String::new(), false));
        assert_eq!(base("  Re: "), (String::new(), true));
        assert_eq!(base("[a[b] c"), ("[a[b] c".into(), false));
    }

    fn msg(n: u64, date: i64, subject: &str, id: &str, refs: &[&str]) -> ThreadFacts {
        ThreadFacts {
            number: n,
            seq: n,
            date,
            subject: subject.into(),
            message_id: (!id.is_empty()).then(|| id.into()),
            references: refs.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn threads(t: &[Thread]) -> String {
        let mut out = Vec::new();
        write_threads(&mut out, t);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn threads_by_references() {
        let msgs = [
            msg(1, 10, "plan", "a", &[]),
            msg(2, 20, "Re: plan", "b", &["a"]),
            msg(3, 30, "Re: plan", "c", &["a"]),
            msg(4, 40, "Re: plan", "d", &["a", "c"]),
            msg(5, 5, "other", "e", &[]),
        ];
        assert_eq!(threads(&references(&msgs)), "(5)(1 (2)(3 4))");
    }

    #[test]
    fn a_missing_parent_is_a_dummy_holding_its_replies() {
        // Both reply to a message not in the set: the dummy keeps them together.
        let msgs = [
            msg(1, 10, "Re: x", "b", &["gone"]),
            msg(2, 20, "Re: x", "c", &["gone"]),
        ];
        assert_eq!(threads(&references(&msgs)), "((1)(2))");
        // One reply alone: promoted to the top.
        assert_eq!(threads(&references(&msgs[..1])), "(1)");
    }

    #[test]
    fn same_subjects_are_gathered_and_loops_are_refused() {
        let msgs = [
            msg(1, 10, "party", "a", &[]),
            msg(2, 20, "Re: party", "b", &[]),
            // References that point at each other: the first link made stands, the one that
            // would close the loop is refused.
            msg(3, 30, "loop", "x", &["y"]),
            msg(4, 40, "loop", "y", &["x"]),
        ];
        assert_eq!(threads(&references(&msgs)), "(1 2)(4 3)");
        // Two originals with the same subject: siblings under a dummy.
        let msgs = [msg(1, 10, "party", "a", &[]), msg(2, 20, "party", "b", &[])];
        assert_eq!(threads(&references(&msgs)), "((1)(2))");
    }

    #[test]
    fn duplicate_and_missing_message_ids_stay_apart() {
        let msgs = [
            msg(1, 10, "one", "same", &[]),
            msg(2, 20, "two", "same", &[]),
            msg(3, 30, "three", "", &[]),
        ];
        assert_eq!(threads(&references(&msgs)), "(1)(2)(3)");
    }

    #[test]
    fn a_long_reply_chain_is_cut_at_the_depth_bound() {
        let ids: Vec<String> = (0..2000).map(|i| format!("m{i}")).collect();
        let msgs: Vec<ThreadFacts> = (0..2000)
            .map(|i| ThreadFacts {
                number: i as u64 + 1,
                seq: i as u64 + 1,
                date: i as i64,
                subject: "chain".into(),
                message_id: Some(ids[i].clone()),
                references: if i == 0 {
                    vec![]
                } else {
                    vec![ids[i - 1].clone()]
                },
            })
            .collect();
        let t = references(&msgs);
        fn deepest(t: &Thread) -> usize {
            1 + t.children.iter().map(deepest).max().unwrap_or(0)
        }
        assert!(t.iter().map(deepest).max().unwrap() <= MAX_THREAD_DEPTH + 1);
        // Every message is answered once.
        let out = threads(&t);
        let mut numbers: Vec<u64> = out
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(numbers, (1..=2000).collect::<Vec<u64>>());
    }

    #[test]
    fn ordered_subject_threads() {
        let msgs = [
            msg(1, 30, "b", "", &[]),
            msg(2, 10, "a", "", &[]),
            msg(3, 20, "Re: a", "", &[]),
            msg(4, 40, "re: A", "", &[]),
            msg(5, 50, "b", "", &[]),
        ];
        assert_eq!(threads(&ordered_subject(&msgs)), "(2 (3)(4))(1 5)");
    }

    #[test]
    fn sorts_by_criteria_then_sequence() {
        let f = |seq: u64, size: u64, from: &str| SortFacts {
            seq,
            size,
            from: casemap(from),
            ..SortFacts::default()
        };
        let mut v = vec![f(1, 30, "b"), f(2, 10, "A"), f(3, 30, "a"), f(4, 20, "c")];
        let by = |by, reverse| SortKey { reverse, by };
        sort(&mut v, &[by(SortBy::From, false)]);
        assert_eq!(v.iter().map(|f| f.seq).collect::<Vec<_>>(), [2, 3, 1, 4]);
        sort(&mut v, &[by(SortBy::Size, true), by(SortBy::From, false)]);
        assert_eq!(v.iter().map(|f| f.seq).collect::<Vec<_>>(), [3, 1, 4, 2]);
    }
}
