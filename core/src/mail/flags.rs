//! System flags as stored: one bit each in `messages.flags`.

/// `\Seen`.
pub const SEEN: i32 = 1;
/// `\Answered`.
pub const ANSWERED: i32 = 2;
/// `\Flagged`.
pub const FLAGGED: i32 = 4;
/// `\Deleted`.
pub const DELETED: i32 = 8;
/// `\Draft`.
pub const DRAFT: i32 = 16;

const NAMES: [(i32, &str); 5] = [
    (SEEN, "seen"),
    (ANSWERED, "answered"),
    (FLAGGED, "flagged"),
    (DELETED, "deleted"),
    (DRAFT, "draft"),
];

/// The bit of a flag named `seen`, `\Seen`, `flagged`… (any case); `None` for a keyword.
pub fn bit(name: &str) -> Option<i32> {
    let n = name.strip_prefix('\\').unwrap_or(name);
    NAMES
        .iter()
        .find(|(_, f)| f.eq_ignore_ascii_case(n))
        .map(|(b, _)| *b)
}

/// The names of the bits set, in a fixed order.
pub fn names(bits: i32) -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits() {
        assert_eq!(bit("\\Seen"), Some(SEEN));
        assert_eq!(bit("FLAGGED"), Some(FLAGGED));
        assert_eq!(bit("$Label1"), None);
        assert_eq!(names(SEEN | DRAFT), ["seen", "draft"]);
    }
}
