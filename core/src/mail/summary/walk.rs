//! The walk over a parsed message's MIME tree that builds [`Part`]s (ids, byte offsets kept
//! inside their parent, bounded depth and count) and the attachment list.

use super::*;

/// Where a part sits in the tree, which decides its id.
pub(super) enum Slot {
    /// The root of a message whose body has the prefix given (`""` at the top): a multipart root
    /// takes the prefix as its id, a single-part body is `prefix.1`.
    Root(String),
    /// A part of a multipart, with its id.
    Child(String),
}

fn join(prefix: &str, n: usize) -> String {
    if prefix.is_empty() {
        n.to_string()
    } else {
        format!("{prefix}.{n}")
    }
}

fn params(ct: Option<&ContentType<'_>>) -> Vec<(String, String)> {
    ct.and_then(|c| c.attributes())
        .unwrap_or(&[])
        .iter()
        .take(MAX_PARAMS)
        .map(|a| (clean(a.name.trim()).to_lowercase(), clean(&a.value)))
        .collect()
}

fn lower(s: &str) -> String {
    clean(s.trim()).to_lowercase()
}

pub(super) struct Walk<'a> {
    pub(super) raw: &'a [u8],
    pub(super) parts: usize,
    pub(super) degraded: bool,
    /// Sorted indices of the top-level message's attachment parts.
    pub(super) attach_idx: Vec<u32>,
    pub(super) attachments: Vec<Attachment>,
}

impl Walk<'_> {
    /// The structure of `msg`'s part `idx`, with offsets kept inside `bounds` (the parent's
    /// body). `top` is whether `msg` is the top-level message.
    pub(super) fn part(
        &mut self,
        msg: &Message<'_>,
        idx: usize,
        slot: Slot,
        bounds: (u64, u64),
        depth: usize,
        top: bool,
    ) -> Option<Part> {
        let p = msg.parts.get(idx)?;
        self.parts += 1;
        let (lo, hi) = bounds;
        let fit = |v: u32| u64::from(v).clamp(lo, hi);
        let hs = if depth == 0 { lo } else { fit(p.offset_header) };
        let bs = fit(p.offset_body).max(hs);
        let end = if depth == 0 { hi } else { fit(p.offset_end) }.max(bs);

        let ct = p.content_type();
        let declared = ct.map(|c| (lower(c.ctype()), c.subtype().map(lower).unwrap_or_default()));
        let (ctype, subtype) = match (declared.clone(), &p.body) {
            (Some((t, s)), _) if !t.is_empty() && !s.is_empty() => (t, s),
            (_, PartType::Multipart(_)) => ("multipart".into(), "mixed".into()),
            (_, PartType::Message(_)) => ("message".into(), "rfc822".into()),
            (_, PartType::Html(_)) => ("text".into(), "html".into()),
            (_, PartType::Binary(_) | PartType::InlineBinary(_)) => {
                ("application".into(), "octet-stream".into())
            }
            (_, PartType::Text(_)) => ("text".into(), "plain".into()),
        };
        let disp = p.content_disposition();
        let language = match p.content_language() {
            HeaderValue::Text(t) => vec![clean(t)],
            HeaderValue::TextList(l) => l.iter().take(MAX_PARAMS).map(|t| clean(t)).collect(),
            _ => Vec::new(),
        };
        let id = match &slot {
            Slot::Root(prefix) if matches!(p.body, PartType::Multipart(_)) => prefix.clone(),
            Slot::Root(prefix) => join(prefix, 1),
            Slot::Child(id) => id.clone(),
        };
        let mut out = Part {
            part_id: id.clone(),
            content_type: ctype,
            subtype,
            params: params(ct),
            content_id: p.content_id().map(strip_id).filter(|s| !s.is_empty()),
            description: p.content_description().map(|d| clean(d.trim())),
            encoding: p.content_transfer_encoding().map(lower),
            disposition: disp.map(|d| lower(d.ctype())).filter(|d| !d.is_empty()),
            disposition_params: params(disp),
            language,
            location: p.content_location().map(|l| clean(l.trim())),
            header_start: hs,
            body_start: bs,
            end,
            size: end - bs,
            lines: 0,
            children: Vec::new(),
            head: None,
        };
        let room = depth < MAX_DEPTH;
        match &p.body {
            PartType::Multipart(children) => {
                out.content_type = "multipart".into();
                for (n, c) in children.iter().enumerate() {
                    if !room || self.parts >= MAX_PARTS {
                        self.degraded = true;
                        break;
                    }
                    let child_id = join(&id, n + 1);
                    if let Some(child) = self.part(
                        msg,
                        *c as usize,
                        Slot::Child(child_id),
                        (bs, end),
                        depth + 1,
                        top,
                    ) {
                        out.children.push(child);
                    }
                }
            }
            // Only an enclosed message that is not transfer-encoded has offsets into `raw`.
            PartType::Message(inner)
                if p.encoding == Encoding::None && room && self.parts < MAX_PARTS =>
            {
                if let Some(child) = self.part(
                    inner,
                    0,
                    Slot::Root(id.clone()),
                    (bs, end),
                    depth + 1,
                    false,
                ) {
                    out.children.push(child);
                }
            }
            _ => {}
        }
        self.shape(&mut out, &p.body);
        if out.content_type == "text" || out.content_type == "message" && !out.children.is_empty() {
            out.lines = count_lines(self.raw.get(bs as usize..end as usize).unwrap_or(&[]));
        }
        if top
            && !matches!(p.body, PartType::Multipart(_))
            && u32::try_from(idx).is_ok_and(|i| self.attach_idx.binary_search(&i).is_ok())
            && self.attachments.len() < MAX_PARTS
        {
            self.attachments.push(attachment(p, &out, declared));
        }
        Some(out)
    }

    /// Enforces the shape guarantees of the module docs on a finished part.
    fn shape(&mut self, out: &mut Part, body: &PartType<'_>) {
        let broken_multipart = out.content_type == "multipart" && out.children.is_empty();
        let broken_message = out.content_type == "message"
            && matches!(out.subtype.as_str(), "rfc822" | "global")
            && out.children.is_empty();
        if !(broken_multipart || broken_message) {
            return;
        }
        self.degraded = true;
        let (t, s) = match body {
            _ if broken_multipart => ("text", "plain"),
            PartType::Text(_) | PartType::Multipart(_) => ("text", "plain"),
            PartType::Html(_) => ("text", "html"),
            PartType::Message(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
                ("application", "octet-stream")
            }
        };
        out.content_type = t.into();
        out.subtype = s.into();
        out.params.retain(|(k, _)| k != "boundary");
        out.children.clear();
    }
}

fn attachment(p: &MessagePart<'_>, out: &Part, declared: Option<(String, String)>) -> Attachment {
    let content_type = match declared {
        // A multipart is never an attachment: one listed here was degraded to a leaf.
        Some((t, s)) if !t.is_empty() && !s.is_empty() && t != "multipart" => format!("{t}/{s}"),
        _ => format!("{}/{}", out.content_type, out.subtype),
    };
    let size = match &p.body {
        // A non-encoded enclosed message's `raw_message` is not its own bytes in every case.
        PartType::Message(_) if p.encoding == Encoding::None => out.size,
        _ => p.len() as u64,
    };
    Attachment {
        part_id: out.part_id.clone(),
        name: p
            .attachment_name()
            .map(|n| clean(n.trim()))
            .filter(|n| !n.is_empty()),
        content_type,
        size,
        content_id: out.content_id.clone(),
        inline: match out.disposition.as_deref() {
            Some(d) => d == "inline",
            None => matches!(p.body, PartType::InlineBinary(_)),
        },
    }
}
