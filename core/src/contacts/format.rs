//! Contact import and export codecs: vCard (written as RFC 6350 version 4.0, read from 2.1, 3.0 and 4.0) and
//! CSV (RFC 4180).
//!
//! Both parsers return the outer `Err(String)` only when the whole input is unusable, and otherwise one entry per
//! card or row: a bad card becomes a [`RowError`], never a partially filled [`Card`], and does not stop the others.
//! Every card a parser returns has passed [`validate`], and `parse_vcards` of `write_vcard(c)` gives back `c` for
//! every valid card.

use serde::{Deserialize, Serialize};

mod csv;
mod vcard;

pub use csv::{parse_csv, write_csv_row};
pub use vcard::{parse_vcards, write_vcard};

/// A value with an optional kind, such as an email address marked `work`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Typed {
    /// The address or number.
    pub value: String,
    /// Lower-case kind such as `work`, `home` or `cell` (see [`validate`] for the allowed spelling).
    pub kind: Option<String>,
}

/// One contact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Card {
    /// vCard `UID`.
    pub uid: Option<String>,
    /// vCard `FN`; on import it is built from `N`, else from the first email, when absent.
    pub full_name: String,
    /// Second component of vCard `N`.
    pub given_name: Option<String>,
    /// First component of vCard `N`.
    pub family_name: Option<String>,
    /// vCard `EMAIL`s.
    pub emails: Vec<Typed>,
    /// vCard `TEL`s.
    pub phones: Vec<Typed>,
    /// First component of vCard `ORG`.
    pub organization: Option<String>,
    /// vCard `TITLE`.
    pub title: Option<String>,
    /// vCard `NOTE`; the only field that may hold line breaks.
    pub notes: Option<String>,
    /// vCard `CATEGORIES`.
    pub labels: Vec<String>,
}

/// Why one card or row of an import was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based card number (vCard) or 1-based data row number (CSV, header not counted; see [`parse_csv`]).
    pub row: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Largest import accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;
/// Most cards or rows accepted in one import.
pub const MAX_CARDS: usize = 50_000;
/// Longest single value, in characters.
pub const MAX_FIELD_CHARS: usize = 2_000;
/// Most emails, phones or labels on one card.
pub const MAX_VALUES: usize = 20;
/// Columns written by [`write_csv_row`], in order.
pub const CSV_HEADER: &str =
    "full_name,given_name,family_name,emails,phones,organization,title,notes,labels";

/// The per-card checks used by both parsers and by the REST API.
///
/// Besides the length, count and character rules, the encodings need a few things to stay unambiguous: optional
/// fields are `None` rather than blank; a kind is a lower-case token (`a-z` first, then `a-z`, `0-9`, `-`, at most
/// 64) other than `internet`/`pref`/`voice`; an email has no whitespace nor any of `()<>,;\"`; a phone and a label
/// have no surrounding spaces; a label is non-empty and holds no `;`.
pub fn validate(card: &Card) -> Result<(), String> {
    if card.full_name.trim().is_empty() {
        return Err("full name is required".into());
    }
    check_text("full name", &card.full_name, false)?;
    let optional = [
        ("uid", &card.uid),
        ("given name", &card.given_name),
        ("family name", &card.family_name),
        ("organization", &card.organization),
        ("title", &card.title),
        ("notes", &card.notes),
    ];
    for (what, value) in optional {
        if let Some(value) = value {
            if value.trim().is_empty() {
                return Err(format!("{what} must be left out rather than blank"));
            }
            check_text(what, value, what == "notes")?;
        }
    }
    let counts = [("emails", card.emails.len()), ("phones", card.phones.len())];
    for (what, count) in counts.into_iter().chain([("labels", card.labels.len())]) {
        if count > MAX_VALUES {
            return Err(format!("too many {what}: {count} (at most {MAX_VALUES})"));
        }
    }
    for (i, email) in card.emails.iter().enumerate() {
        check_typed("email", i, email)?;
        if !is_email(&email.value) {
            return Err(format!("email {} is not a valid address", i + 1));
        }
    }
    for (i, phone) in card.phones.iter().enumerate() {
        check_typed("phone", i, phone)?;
        if !is_phone(&phone.value) {
            return Err(format!(
                "phone {} must hold a digit and only digits, spaces and +-().",
                i + 1
            ));
        }
    }
    for (i, label) in card.labels.iter().enumerate() {
        let what = format!("label {}", i + 1);
        check_text(&what, label, false)?;
        if label.trim().is_empty() || label.trim() != label || label.contains(';') {
            return Err(format!(
                "{what} must be non-empty, without surrounding spaces or ';'"
            ));
        }
    }
    Ok(())
}

fn check_text(what: &str, value: &str, multiline: bool) -> Result<(), String> {
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(format!(
            "{what} is longer than {MAX_FIELD_CHARS} characters"
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

fn check_typed(what: &str, i: usize, typed: &Typed) -> Result<(), String> {
    let what = format!("{what} {}", i + 1);
    check_text(&what, &typed.value, false)?;
    match &typed.kind {
        Some(kind) if !is_kind(kind) => {
            Err(format!("{what} has an invalid kind (use a-z, 0-9 and '-')"))
        }
        _ => Ok(()),
    }
}

fn is_email(value: &str) -> bool {
    let mut parts = value.split('@');
    let shape = matches!((parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty());
    shape
        && !value
            .chars()
            .any(|c| c.is_whitespace() || "()<>,;\\\"".contains(c))
}

fn is_phone(value: &str) -> bool {
    value.trim() == value
        && value.chars().any(|c| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// A kind token; `TYPE` values (and vCard 2.1 bare parameters) that say nothing about the kind are not kinds.
fn is_kind(kind: &str) -> bool {
    kind.len() <= 64
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && !matches!(
            kind,
            "internet" | "pref" | "voice" | "quoted-printable" | "base64" | "7bit" | "8bit"
        )
}

fn check_size(input: &str) -> Result<(), String> {
    if input.len() > MAX_IMPORT_BYTES {
        return Err(format!("import is larger than {MAX_IMPORT_BYTES} bytes"));
    }
    Ok(())
}

/// Sets `slot` to `value` unless it is already set or `value` is blank.
fn set_once(slot: &mut Option<String>, value: String) {
    if slot.is_none() && !value.trim().is_empty() {
        *slot = Some(value);
    }
}

/// Fills in the full name when the input had none, then validates.
fn finish(mut card: Card, full_name: Option<String>) -> Result<Card, String> {
    card.full_name = match full_name {
        Some(name) => name,
        None => {
            let given = card.given_name.as_deref().unwrap_or_default();
            let from_n = format!(
                "{given} {}",
                card.family_name.as_deref().unwrap_or_default()
            );
            match card.emails.first() {
                _ if !from_n.trim().is_empty() => from_n.trim().to_string(),
                Some(email) => email.value.clone(),
                None => return Err("contact has no name and no email address".into()),
            }
        }
    };
    validate(&card)?;
    Ok(card)
}

// ---------------------------------------------------------------------------------------------------------------
// vCard

fn push_typed(list: &mut Vec<Typed>, value: &str, kind: Option<String>) {
    let value = value.trim().to_string();
    if !value.is_empty() {
        list.push(Typed { value, kind });
    }
}

fn push_value(list: &mut Vec<String>, value: &str) {
    if !value.trim().is_empty() {
        list.push(value.trim().to_string());
    }
}

fn row_error(row: usize, message: &str) -> RowError {
    let message = message.to_string();
    RowError { row, message }
}

fn strip_prefix_ci<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: &str, kind: Option<&str>) -> Typed {
        Typed {
            value: value.into(),
            kind: kind.map(Into::into),
        }
    }

    fn named(name: &str) -> Card {
        Card {
            full_name: name.into(),
            ..Card::default()
        }
    }

    /// "Ana" changed by `f`.
    fn ana(f: impl FnOnce(&mut Card)) -> Card {
        let mut card = named("Ana");
        f(&mut card);
        card
    }

    fn sample_cards() -> Vec<Card> {
        let notes: String = "Ünïcødé 日本語, ; \\ 😀\n"
            .chars()
            .cycle()
            .take(200)
            .collect();
        let mut zoe = named("Zoë Ångström, PhD; Esq.");
        zoe.uid = Some("urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1".into());
        (zoe.given_name, zoe.family_name) = (Some("Zoë".into()), Some("Ångström".into()));
        zoe.emails = vec![
            typed("zoe@example.com", Some("work")),
            typed("z@home.example", None),
        ];
        zoe.phones = vec![
            typed("+44 20 7946 0958", Some("cell")),
            typed("(555) 0100", Some("x-car2")),
        ];
        (zoe.organization, zoe.title) =
            (Some("Acme, Inc.; Ltd".into()), Some("Boss\\Chief".into()));
        zoe.notes = Some(notes);
        zoe.labels = vec!["Friends".into(), "a,b".into(), "Ünïcødé".into()];
        let mut long = named(&"é".repeat(MAX_FIELD_CHARS));
        (long.title, long.family_name) = (Some("😀".repeat(500)), Some(" padded ".into()));
        long.notes = Some(" starts with a space\n\nand ends with one ".into());
        long.phones = vec![typed("-5", None)];
        let mut evil = named("=HYPERLINK(\"http://evil.example\",\"x\")");
        (evil.emails, evil.labels) = (
            vec![typed("-x@example.com", Some("home"))],
            vec!["@team".into()],
        );
        vec![zoe, named("Solo"), long, evil]
    }

    #[test]
    fn vcard_3_with_folding_groups_bare_types_and_escapes() {
        let input = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;Q.;Dr.;\r\nFN:Jane Doe\r\n\
            item1.EMAIL;type=INTERNET;type=WORK;type=pref:jane@work.example\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
            EMAIL;INTERNET;HOME:jane@home.example\r\nTEL;CELL;VOICE:+1 555 0100\r\nTEL:555-0199\r\n\
            ORG:Acme\\, Inc.;R&D\r\ntitle:Chief\\; Boss\r\nNOTE:Line one\\nLine two is long enough that it was fo\r\n \
            lded\r\n\t across lines\r\nCATEGORIES:Friends,Work\\,Stuff\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n\
            X-CUSTOM:whatever\r\nEND:VCARD\r\n";
        let mut expected = named("Jane Doe");
        (expected.family_name, expected.given_name) = (Some("Doe".into()), Some("Jane".into()));
        expected.emails = vec![
            typed("jane@work.example", Some("work")),
            typed("jane@home.example", Some("home")),
        ];
        expected.phones = vec![typed("+1 555 0100", Some("cell")), typed("555-0199", None)];
        (expected.organization, expected.title) =
            (Some("Acme, Inc.".into()), Some("Chief; Boss".into()));
        expected.notes =
            Some("Line one\nLine two is long enough that it was folded across lines".into());
        expected.labels = vec!["Friends".into(), "Work,Stuff".into()];
        assert_eq!(parse_vcards(input).unwrap(), vec![Ok(expected)]);
    }

    #[test]
    fn vcard_4_sample_and_name_fallbacks() {
        let input = "intro text\nBEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:1\nFN:Ana Lima\n\
            EMAIL;TYPE=\"home,pref\";PREF=1:ana@x.com\nEMAIL;TYPE=work:\n\
            TEL;VALUE=uri;TYPE=\"voice,cell\":tel:+1-555-555-0199;ext=5\nTEL;VALUE=uri:sip:ana@x.com\n\
            GEO;X-P=\"a:b\":geo:1,2\nEND:VCARD\n\
            begin:vcard\nN:Lima;Bo;;;\nEND:VCARD\nBEGIN:VCARD\nEMAIL:cy@x.com\nEND:VCARD\n\
            BEGIN:VCARD\nORG:Nobody\nEND:VCARD\ntrailer";
        let cards = parse_vcards(input).unwrap();
        let first = cards[0].clone().unwrap();
        assert_eq!(first.uid.as_deref(), Some("urn:uuid:1"));
        assert_eq!(first.emails, vec![typed("ana@x.com", Some("home"))]);
        assert_eq!(first.phones, vec![typed("+1-555-555-0199", Some("cell"))]);
        assert_eq!(cards[1].clone().unwrap().full_name, "Bo Lima");
        assert_eq!(cards[2].clone().unwrap().full_name, "cy@x.com");
        assert_eq!(
            cards[3],
            Err(row_error(4, "contact has no name and no email address"))
        );
    }

    #[test]
    fn one_broken_card_does_not_stop_the_others() {
        let ok = |n: &str| format!("BEGIN:VCARD\r\nFN:{n}\r\nEMAIL:{n}@x.com\r\nEND:VCARD\r\n");
        let too_long = format!(
            "BEGIN:VCARD\r\nFN:Bad\r\nTITLE:{}\r\nEND:VCARD\r\n",
            "x".repeat(MAX_FIELD_CHARS + 1)
        );
        for broken in [
            "BEGIN:VCARD\r\nFN:Bad\r\n",
            "BEGIN:VCARD\r\nFN:Bad\r\nEMAIL:not-an-email\r\nEND:VCARD\r\n",
            "BEGIN:VCARD\r\nFN:Bad\r\ngarbage line\r\nEND:VCARD\r\n",
            &too_long,
        ] {
            let results = parse_vcards(&format!("{}{broken}{}", ok("a"), ok("c"))).unwrap();
            assert_eq!(results.len(), 3, "{broken}");
            assert_eq!(results[0].clone().unwrap().full_name, "a");
            assert_eq!(results[1].clone().unwrap_err().row, 2);
            assert_eq!(results[2].clone().unwrap().full_name, "c");
        }
        // A missing END on the last card is reported too.
        let results = parse_vcards(&format!("{}BEGIN:VCARD\nFN:x", ok("a"))).unwrap();
        assert_eq!(results[1], Err(row_error(2, "card is missing END:VCARD")));
    }

    #[test]
    fn vcard_outer_errors() {
        assert_eq!(parse_vcards("").unwrap(), vec![]);
        assert_eq!(parse_vcards(" \r\n").unwrap(), vec![]);
        assert!(parse_vcards("FN:Ana\nEMAIL:a@b\n").is_err());
        assert!(parse_vcards(&" ".repeat(MAX_IMPORT_BYTES + 1)).is_err());
        let many = "BEGIN:VCARD\nFN:a\nEND:VCARD\n".repeat(MAX_CARDS);
        assert_eq!(parse_vcards(&many).unwrap().len(), MAX_CARDS);
        assert!(parse_vcards(&format!("{many}BEGIN:VCARD\nFN:a\nEND:VCARD\n")).is_err());
    }

    #[test]
    fn vcard_round_trip_and_folding() {
        let mut out = String::new();
        for card in sample_cards() {
            validate(&card).unwrap();
            write_vcard(&card, &mut out);
        }
        assert!(out.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971"));
        assert!(out.contains("\r\nTEL;TYPE=cell:+44 20 7946 0958\r\n"));
        assert!(out.contains("\r\nN: padded ;;;;\r\n"));
        assert!(out.contains("\r\nFN:Solo\r\nN:;;;;\r\nEND:VCARD\r\n"));
        assert!(out.split("\r\n").all(|line| line.len() <= 75));
        assert!(!out.replace("\r\n", "").contains(['\r', '\n']));
        let parsed: Vec<Card> = parse_vcards(&out)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(parsed, sample_cards());
    }

    #[test]
    fn csv_aliases_bom_quotes_and_kinds() {
        let input = "\u{feff}E-mail Address,Surname,First Name,Company,Notes,Unknown,Mobile,Tags\r\n\
            ana@x.com (Work); ana@home.net,Lima,Ana,Acme,\"line1\r\nline2, with \"\"quotes\"\"\",zz,\
            +1 (555) 0100 (cell); (555) 0101,a; b ;\r\n";
        let mut expected = named("Ana Lima");
        (expected.given_name, expected.family_name) = (Some("Ana".into()), Some("Lima".into()));
        expected.emails = vec![
            typed("ana@x.com", Some("work")),
            typed("ana@home.net", None),
        ];
        expected.phones = vec![
            typed("+1 (555) 0100", Some("cell")),
            typed("(555) 0101", None),
        ];
        expected.organization = Some("Acme".into());
        expected.notes = Some("line1\nline2, with \"quotes\"".into());
        expected.labels = vec!["a".into(), "b".into()];
        assert_eq!(parse_csv(input).unwrap(), vec![Ok(expected)]);
    }

    #[test]
    fn csv_row_errors_and_numbering() {
        // Blank lines and all-empty rows are skipped but counted: row = spreadsheet row - 1.
        let input = "\nname,email\nAna,ana@x.com\n\nBob,bob@x.com,x\n,\nEd,not-an-email\nCy,cy@x.com\n\"Dee,d@x.com\n";
        let rows = parse_csv(input).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].clone().unwrap().full_name, "Ana");
        assert_eq!(
            rows[1],
            Err(row_error(3, "row has 3 fields but the header has 2"))
        );
        assert_eq!(rows[2], Err(row_error(5, "email 1 is not a valid address")));
        assert_eq!(
            rows[3].clone().unwrap().emails,
            vec![typed("cy@x.com", None)]
        );
        assert_eq!(rows[4], Err(row_error(7, "unterminated quoted field")));
        // Fewer fields than the header is fine.
        assert_eq!(
            parse_csv("name,email,phone\nAna").unwrap(),
            vec![Ok(named("Ana"))]
        );
    }

    #[test]
    fn csv_outer_errors() {
        assert_eq!(parse_csv("").unwrap(), vec![]);
        assert_eq!(parse_csv("\u{feff}\r\n").unwrap(), vec![]);
        assert!(parse_csv("foo,bar\n1,2\n").is_err());
        assert!(parse_csv("\"name,email\n").is_err());
        assert!(parse_csv(&"a".repeat(MAX_IMPORT_BYTES + 1)).is_err());
        let many = format!("name\n{}", "a\n".repeat(MAX_CARDS));
        assert_eq!(parse_csv(&many).unwrap().len(), MAX_CARDS);
        assert!(parse_csv(&format!("{many}a\n")).is_err());
    }

    #[test]
    fn csv_round_trip_and_formula_injection() {
        let mut out = format!("{CSV_HEADER}\r\n");
        for card in sample_cards() {
            write_csv_row(&card, &mut out);
        }
        assert!(out.contains(
            "\r\n\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",,,'-x@example.com (home),"
        ));
        assert!(out.contains(",'@team\r\n"));
        assert!(out.contains(",+44 20 7946 0958 (cell); (555) 0100 (x-car2),"));
        assert!(out.contains(",'-5,"));
        let parsed: Vec<Card> = parse_csv(&out)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let expected: Vec<Card> = sample_cards()
            .into_iter()
            .map(|c| Card { uid: None, ..c })
            .collect();
        assert_eq!(parsed, expected);
        // A phones field starting with '+' that is not made of valid phones is still guarded.
        let mut row = String::new();
        write_csv_row(
            &ana(|c| c.phones = vec![typed("+cmd|' /C calc'!A0", None)]),
            &mut row,
        );
        assert_eq!(row, "Ana,,,,'+cmd|' /C calc'!A0,,,,\r\n");
    }

    #[test]
    fn limits() {
        let emails = |n: usize| {
            (0..n)
                .map(|i| typed(&format!("u{i}@x.com"), None))
                .collect::<Vec<_>>()
        };
        assert!(validate(&ana(|c| c.emails = emails(MAX_VALUES))).is_ok());
        assert!(validate(&ana(|c| c.emails = emails(MAX_VALUES + 1))).is_err());
        assert!(validate(&ana(|c| c.labels = vec!["l".into(); MAX_VALUES + 1])).is_err());
        assert!(validate(&ana(|c| c.phones = vec![typed("1", None); MAX_VALUES + 1])).is_err());
        assert!(validate(&named(&"é".repeat(MAX_FIELD_CHARS))).is_ok());
        assert!(validate(&named(&"é".repeat(MAX_FIELD_CHARS + 1))).is_err());
        let long_email = typed(&format!("{}@x.com", "a".repeat(MAX_FIELD_CHARS)), None);
        assert!(validate(&ana(|c| c.emails = vec![long_email])).is_err());
        let list: Vec<String> = (0..=MAX_VALUES).map(|i| format!("u{i}@x.com")).collect();
        let rows = parse_csv(&format!("name,emails\nA,{}\nB,b@x.com\n", list.join(";"))).unwrap();
        assert_eq!(
            rows[0],
            Err(row_error(1, "too many emails: 21 (at most 20)"))
        );
        assert!(rows[1].is_ok());
    }

    #[test]
    fn validate_cases() {
        let ok = |f: fn(&mut Card)| validate(&ana(f)).is_ok();
        assert!(ok(|_| {}));
        assert!(ok(|c| c.notes = Some("a\nb".into())));
        assert!(!ok(|c| c.full_name = "  ".into()));
        assert!(!ok(|c| c.full_name = "Ana\tLima".into()));
        assert!(!ok(|c| c.title = Some("a\nb".into())));
        assert!(!ok(|c| c.notes = Some("a\r\nb".into())));
        assert!(!ok(|c| c.title = Some(" ".into())));
        let typed_ok = |email: bool, value: &str, kind: Option<&str>| {
            validate(&ana(|c| {
                *if email { &mut c.emails } else { &mut c.phones } = vec![typed(value, kind)]
            }))
            .is_ok()
        };
        for good in ["a@b", "first.last+tag@sub.example.com", "ü@例え.jp"] {
            assert!(typed_ok(true, good, None), "{good}");
        }
        for bad in [
            "ab", "a@@b", "a@b@c", "@b", "a@", "a b@c", "a@b,c@d", "a;b@c", "",
        ] {
            assert!(!typed_ok(true, bad, None), "{bad}");
        }
        for good in ["+44 20 7946 0958", "(555) 010-0100", "5", "+1.555.0100"] {
            assert!(typed_ok(false, good, None), "{good}");
        }
        for bad in ["", "+", "555 ext 1", " 555", "555\u{0}", "call me"] {
            assert!(!typed_ok(false, bad, None), "{bad}");
        }
        for (kind, good) in [
            ("work", true),
            ("x-car2", true),
            ("Work", false),
            ("pref", false),
            ("a b", false),
        ] {
            assert_eq!(typed_ok(false, "1", Some(kind)), good, "{kind}");
        }
        for (label, good) in [
            ("Friends", true),
            ("a,b", true),
            ("", false),
            (" a", false),
            ("a;b", false),
        ] {
            assert_eq!(
                validate(&ana(|c| c.labels = vec![label.into()])).is_ok(),
                good,
                "{label}"
            );
        }
    }
}
