//! vCard: read from 2.1, 3.0 and 4.0, written as 4.0 (RFC 6350).

use super::*;

/// Parses every `BEGIN:VCARD` … `END:VCARD` block of `input`; text outside the blocks is ignored.
///
/// Empty input gives no cards; non-empty input without any `BEGIN:VCARD` is an outer error.
pub fn parse_vcards(input: &str) -> Result<Vec<Result<Card, RowError>>, String> {
    check_size(input)?;
    let mut results = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let missing_end = |row| Err(row_error(row, "card is missing END:VCARD"));
    for line in unfold(input) {
        let bare = line.trim();
        if bare.eq_ignore_ascii_case("BEGIN:VCARD") {
            if current.replace(Vec::new()).is_some() {
                results.push(missing_end(results.len() + 1));
            }
            if results.len() >= MAX_CARDS {
                return Err(format!("more than {MAX_CARDS} cards"));
            }
        } else if bare.eq_ignore_ascii_case("END:VCARD") {
            if let Some(lines) = current.take() {
                let row = results.len() + 1;
                results.push(vcard_to_card(&lines).map_err(|message| row_error(row, &message)));
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    if current.is_some() {
        results.push(missing_end(results.len() + 1));
    }
    if results.is_empty() && !input.trim().is_empty() {
        return Err("no BEGIN:VCARD found: this is not a vCard file".into());
    }
    Ok(results)
}

/// Splits on CRLF or LF and joins continuation lines (leading space or tab, which is dropped).
fn unfold(input: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in input.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(raw.to_string()),
        }
    }
    lines
}

fn vcard_to_card(lines: &[String]) -> Result<Card, String> {
    let mut card = Card::default();
    let mut full_name = None;
    for line in lines.iter().filter(|line| !line.trim().is_empty()) {
        let Some(prop) = Property::parse(line) else {
            let start: String = line.chars().take(40).collect();
            return Err(format!("malformed line (no ':'): {start}"));
        };
        let parts = || split_top(prop.value, ';', false).into_iter().map(unescape);
        match prop.name.as_str() {
            "FN" => set_once(&mut full_name, unescape(prop.value)),
            "N" => {
                let mut parts = parts();
                set_once(&mut card.family_name, parts.next().unwrap_or_default());
                set_once(&mut card.given_name, parts.next().unwrap_or_default());
            }
            "EMAIL" => push_typed(&mut card.emails, &unescape(prop.value), prop.kind()),
            "TEL" => match strip_prefix_ci(prop.value.trim(), "tel:") {
                Some(uri) => push_typed(
                    &mut card.phones,
                    uri.split(';').next().unwrap_or_default(),
                    prop.kind(),
                ),
                None if prop.uri => {} // a sip: or other URI is no phone number we can store
                None => push_typed(&mut card.phones, &unescape(prop.value), prop.kind()),
            },
            "ORG" => set_once(&mut card.organization, parts().next().unwrap_or_default()),
            "TITLE" => set_once(&mut card.title, unescape(prop.value)),
            "NOTE" => set_once(&mut card.notes, unescape(prop.value)),
            "UID" => set_once(&mut card.uid, unescape(prop.value)),
            "CATEGORIES" => {
                for label in split_top(prop.value, ',', false).into_iter().map(unescape) {
                    push_value(&mut card.labels, &label);
                }
            }
            _ => {}
        }
    }
    finish(card, full_name)
}

/// One content line: `[group.]NAME[;param…]:value`.
struct Property<'a> {
    /// Upper-cased name without its group.
    name: String,
    /// Lower-cased `TYPE` values and bare (vCard 2.1/3.0) parameters, in order.
    types: Vec<String>,
    /// `VALUE=uri` was given.
    uri: bool,
    /// The raw, still escaped value.
    value: &'a str,
}

impl<'a> Property<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let colon = separators(line, ':', true).next()?;
        let (head, value) = (&line[..colon], &line[colon + 1..]);
        let mut params = split_top(head, ';', true).into_iter();
        let name = params.next()?;
        let name = name
            .rsplit('.')
            .next()
            .unwrap_or(name)
            .trim()
            .to_ascii_uppercase();
        if name.is_empty() {
            return None;
        }
        let (mut types, mut uri) = (Vec::new(), false);
        for param in params {
            match param.split_once('=') {
                Some((key, val)) if key.trim().eq_ignore_ascii_case("TYPE") => {
                    let val = val.trim().trim_matches('"');
                    types.extend(val.split(',').map(|t| t.trim().to_ascii_lowercase()));
                }
                Some((key, val)) => {
                    uri |= key.trim().eq_ignore_ascii_case("VALUE")
                        && val.trim().eq_ignore_ascii_case("uri")
                }
                None => types.push(param.trim().to_ascii_lowercase()),
            }
        }
        Some(Property {
            name,
            types,
            uri,
            value,
        })
    }

    /// The first type that names a kind (not `internet`, `pref`, `voice` or an encoding).
    fn kind(&self) -> Option<String> {
        self.types.iter().find(|t| is_kind(t)).cloned()
    }
}

/// Byte offsets of `sep` in `s` that are outside `"…"` (when `quoted`) or not backslash-escaped (otherwise).
fn separators(s: &str, sep: char, quoted: bool) -> impl Iterator<Item = usize> + '_ {
    let (mut in_quotes, mut escaped) = (false, false);
    s.char_indices().filter_map(move |(i, c)| {
        if escaped {
            escaped = false;
        } else if quoted && c == '"' {
            in_quotes = !in_quotes;
        } else if !quoted && c == '\\' {
            escaped = true;
        } else if c == sep && !in_quotes {
            return Some(i);
        }
        None
    })
}

fn split_top(s: &str, sep: char, quoted: bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for i in separators(s, sep, quoted) {
        parts.push(&s[start..i]);
        start = i + sep.len_utf8();
    }
    parts.push(&s[start..]);
    parts
}

/// RFC 6350 §3.4 unescaping; an unknown escape is kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(c @ (',' | ';' | ':' | '\\')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// RFC 6350 §3.4 escaping of a text value (a stray CR or CRLF becomes an escaped newline too).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            c => out.push(c),
        }
    }
    out
}

/// Appends one vCard 4.0 card. Kinds that [`validate`] would reject are left out.
pub fn write_vcard(card: &Card, out: &mut String) {
    let esc = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
    out.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\n");
    if let Some(uid) = &card.uid {
        push_folded(out, "UID", &escape(uid));
    }
    push_folded(out, "FN", &escape(&card.full_name));
    let n = format!("{};{};;;", esc(&card.family_name), esc(&card.given_name));
    push_folded(out, "N", &n);
    for (name, list) in [("EMAIL", &card.emails), ("TEL", &card.phones)] {
        for typed in list {
            let name = match typed.kind.as_deref().filter(|k| is_kind(k)) {
                Some(kind) => format!("{name};TYPE={kind}"),
                None => name.to_string(),
            };
            push_folded(out, &name, &escape(&typed.value));
        }
    }
    for (name, value) in [
        ("ORG", &card.organization),
        ("TITLE", &card.title),
        ("NOTE", &card.notes),
    ] {
        if value.is_some() {
            push_folded(out, name, &esc(value));
        }
    }
    if !card.labels.is_empty() {
        let labels: Vec<String> = card.labels.iter().map(|l| escape(l)).collect();
        push_folded(out, "CATEGORIES", &labels.join(","));
    }
    out.push_str("END:VCARD\r\n");
}

/// Writes `name:value` folded into lines of at most 75 octets (RFC 6350 §3.2), never inside a UTF-8 character.
fn push_folded(out: &mut String, name: &str, value: &str) {
    let line = format!("{name}:{value}");
    let (mut rest, mut limit) = (line.as_str(), 75);
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = 74; // the leading space counts
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

// ---------------------------------------------------------------------------------------------------------------
// CSV
