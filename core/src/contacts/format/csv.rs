//! CSV (RFC 4180) with a header row naming the columns.

use super::*;

/// A CSV column we read. Variant order matters: the header must hold one of the first four (up to `Emails`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    FullName,
    Given,
    Family,
    Emails,
    Phones,
    Org,
    Title,
    Notes,
    Labels,
}

fn column(header: &str) -> Option<Column> {
    let key = header.to_lowercase().replace([' ', '\t', '_', '-'], "");
    Some(match key.as_str() {
        "fullname" | "name" | "displayname" => Column::FullName,
        "givenname" | "firstname" | "given" => Column::Given,
        "familyname" | "lastname" | "surname" | "family" => Column::Family,
        "emails" | "email" | "emailaddress" | "emailaddresses" => Column::Emails,
        "phones" | "phone" | "mobile" | "telephone" | "phonenumber" => Column::Phones,
        "organization" | "organisation" | "company" | "org" => Column::Org,
        "title" | "jobtitle" => Column::Title,
        "notes" | "note" => Column::Notes,
        "labels" | "groups" | "categories" | "tags" => Column::Labels,
        _ => return None,
    })
}

struct Record {
    fields: Vec<String>,
    /// The input ended inside a quoted field.
    unterminated: bool,
}

impl Record {
    fn is_blank(&self) -> bool {
        !self.unterminated && self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// RFC 4180 records; CRLF, LF or a lone CR end a record, and CRLF inside quotes is read as LF.
fn csv_records(input: &str) -> Vec<Record> {
    let (mut records, mut fields, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.next_if_eq(&'"').is_some() => field.push('"'),
            '"' if quoted => quoted = false,
            '\r' if quoted && chars.peek() == Some(&'\n') => {}
            c if quoted => field.push(c),
            '"' if field.is_empty() => quoted = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' | '\n' => {
                if c == '\r' {
                    chars.next_if_eq(&'\n');
                }
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    fields: std::mem::take(&mut fields),
                    unterminated: false,
                });
            }
            c => field.push(c),
        }
    }
    if quoted || !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(Record {
            fields,
            unterminated: quoted,
        });
    }
    records
}

/// Parses a CSV export with a header row.
///
/// Columns are matched by name, in any order, ignoring case, spaces, `_` and `-`; unknown ones are ignored. Besides
/// the [`CSV_HEADER`] names it accepts `name` (full name), `first name`/`given`, `last name`/`surname`/`family`,
/// `email`/`e-mail address`, `phone`/`mobile`/`telephone`, `company`/`organisation`/`org`, `job title`, `note` and
/// `groups`/`categories`/`tags`. Without a name, given name, family name or email column the input is rejected.
/// `emails`, `phones` and `labels` hold `;`-separated values, emails and phones each as `value` or `value (kind)`.
/// A leading `'` before `=`, `+`, `-` or `@` (the [`write_csv_row`] formula guard) is dropped.
///
/// Row numbers: data rows are numbered from 1 starting after the header, and blank lines (or rows whose fields are
/// all empty) are skipped but still counted, so `row` is the spreadsheet row number minus one. Blank lines before
/// the header are not counted. Empty input gives no cards.
pub fn parse_csv(input: &str) -> Result<Vec<Result<Card, RowError>>, String> {
    check_size(input)?;
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    if input.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut records = csv_records(input).into_iter().skip_while(Record::is_blank);
    let no_header = || {
        "no recognisable header row (need a name, given name, family name or email column)"
            .to_string()
    };
    let header = records
        .next()
        .filter(|h| !h.unterminated)
        .ok_or_else(no_header)?;
    let columns: Vec<Option<Column>> = header.fields.iter().map(|h| column(h)).collect();
    if !columns.iter().flatten().any(|c| *c <= Column::Emails) {
        return Err(no_header());
    }
    let mut results = Vec::new();
    for (i, record) in records.enumerate() {
        if record.is_blank() {
            continue;
        }
        if results.len() >= MAX_CARDS {
            return Err(format!("more than {MAX_CARDS} rows"));
        }
        results.push(csv_card(&columns, &record).map_err(|message| row_error(i + 1, &message)));
    }
    Ok(results)
}

fn csv_card(columns: &[Option<Column>], record: &Record) -> Result<Card, String> {
    if record.unterminated {
        return Err("unterminated quoted field".into());
    }
    if record.fields.len() > columns.len() {
        let (got, want) = (record.fields.len(), columns.len());
        return Err(format!("row has {got} fields but the header has {want}"));
    }
    let (mut card, mut full_name) = (Card::default(), None);
    for (column, raw) in columns.iter().zip(&record.fields) {
        let value = unprotect(raw).to_string();
        match column {
            Some(Column::FullName) => set_once(&mut full_name, value),
            Some(Column::Given) => set_once(&mut card.given_name, value),
            Some(Column::Family) => set_once(&mut card.family_name, value),
            Some(Column::Emails) => push_csv_typed(&mut card.emails, &value),
            Some(Column::Phones) => push_csv_typed(&mut card.phones, &value),
            Some(Column::Org) => set_once(&mut card.organization, value),
            Some(Column::Title) => set_once(&mut card.title, value),
            Some(Column::Notes) => set_once(&mut card.notes, value),
            Some(Column::Labels) => value
                .split(';')
                .for_each(|label| push_value(&mut card.labels, label)),
            None => {}
        }
    }
    finish(card, full_name)
}

/// Reads `;`-separated values, each `value` or `value (kind)`. The kind must follow whitespace and look like a word,
/// so phone numbers such as `+1 (555) 0100` keep their parentheses.
fn push_csv_typed(list: &mut Vec<Typed>, field: &str) {
    for item in field.split(';') {
        let split = item
            .trim()
            .strip_suffix(')')
            .and_then(|body| body.rsplit_once('('));
        let Some((value, kind)) =
            split.filter(|(value, kind)| value.ends_with(' ') && is_word(kind))
        else {
            push_typed(list, item, None);
            continue;
        };
        let kind = kind.to_ascii_lowercase();
        push_typed(list, value, is_kind(&kind).then_some(kind));
    }
}

fn is_word(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Undoes the formula-injection guard of [`write_csv_row`].
fn unprotect(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => field,
    }
}

/// Appends one CSV record (with CRLF) in [`CSV_HEADER`] order.
///
/// Fields starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'` so spreadsheets do not run them as
/// formulas (OWASP "CSV injection"), except a phones field made only of valid phones whose first one starts with
/// `+`. Known limit: a value that itself starts with `'` followed by one of `=+-@` loses that `'` on import.
pub fn write_csv_row(card: &Card, out: &mut String) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let item = |t: &Typed| match t.kind.as_deref().filter(|k| is_kind(k)) {
        Some(kind) => format!("{} ({kind})", t.value),
        None => t.value.clone(),
    };
    let join = |list: &[Typed]| list.iter().map(item).collect::<Vec<_>>().join("; ");
    let valid = |p: &Typed| is_phone(&p.value) && p.kind.as_deref().is_none_or(is_kind);
    let phones_safe = card
        .phones
        .first()
        .is_some_and(|p| p.value.starts_with('+'))
        && card.phones.iter().all(valid);
    let fields = [
        card.full_name.clone(),
        opt(&card.given_name),
        opt(&card.family_name),
        join(&card.emails),
        join(&card.phones),
        opt(&card.organization),
        opt(&card.title),
        opt(&card.notes),
        card.labels.join("; "),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let guarded =
            field.starts_with(['=', '+', '-', '@', '\t', '\r']) && !(i == 4 && phones_safe);
        let field = if guarded {
            format!("'{field}")
        } else {
            field.clone()
        };
        if field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ')
        {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}
