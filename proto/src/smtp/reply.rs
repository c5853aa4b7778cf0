//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463).

/// One reply, possibly of several lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit code.
    pub code: u16,
    /// Enhanced status code such as `5.1.1`, when the server advertises ENHANCEDSTATUSCODES.
    pub enhanced: Option<&'static str>,
    /// The text lines (at least one).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, enhanced: Option<&'static str>, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// Whether the reply is a permanent (5xx) or transient (4xx) failure.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The wire form: `250-first\r\n250 last\r\n`. Line breaks inside a text line are replaced,
    /// so no text can inject a reply line.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let clean: String = line
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            let text = match self.enhanced {
                Some(e) if i == 0 || i == last => format!("{e} {clean}"),
                _ => clean,
            };
            out.extend_from_slice(format!("{}{sep}{text}\r\n", self.code).as_bytes());
        }
        if self.lines.is_empty() {
            out.extend_from_slice(format!("{} \r\n", self.code).as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        assert_eq!(
            Reply::new(250, Some("2.0.0"), "OK").to_wire(),
            b"250 2.0.0 OK\r\n"
        );
        let ehlo = Reply {
            code: 250,
            enhanced: None,
            lines: vec!["mx.example".into(), "PIPELINING".into(), "SIZE 1000".into()],
        };
        assert_eq!(
            ehlo.to_wire(),
            b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
        );
        assert_eq!(
            Reply::new(550, Some("5.1.1"), "no\r\n250 ok").to_wire(),
            b"550 5.1.1 no  250 ok\r\n"
        );
        assert!(Reply::new(452, None, "x").is_error() && !Reply::new(354, None, "go").is_error());
    }
}
