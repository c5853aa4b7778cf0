//! Composing a message from what a frontend sends (`POST /v1/mailboxes/{id}/send`): the
//! sender's identity, recipients, subject, text and/or HTML with the chosen signature,
//! attachments, and the threading fields of a reply (`In-Reply-To`, `References`, the quoted
//! text) or the original of a forward (attached as `message/rfc822`). The MIME is lettre's.

use crate::error::{Error, Result};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// A file to attach.
#[derive(Debug, Clone)]
pub struct Attached {
    /// Its name.
    pub filename: String,
    /// `type/subtype`.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// What a reply quotes and how it threads.
#[derive(Debug, Clone, Default)]
pub struct ReplyTo {
    /// The original's `Message-ID` (without brackets).
    pub message_id: Option<String>,
    /// The original's `References`, then its `In-Reply-To` when it had no `References`.
    pub references: Vec<String>,
    /// Who wrote it and when, for the attribution line.
    pub attribution: String,
    /// Its text, to quote.
    pub text: Option<String>,
}

/// A message to compose.
#[derive(Debug, Clone, Default)]
pub struct Compose {
    /// The sender's display name.
    pub from_name: String,
    /// The sender's address (an identity).
    pub from: String,
    /// `Reply-To` addresses.
    pub reply_to: Vec<String>,
    /// Recipients shown in `To`.
    pub to: Vec<String>,
    /// Recipients shown in `Cc`.
    pub cc: Vec<String>,
    /// Bcc recipients kept in the header (a draft's); empty when sending.
    pub bcc: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body (sanitised by the caller).
    pub html: Option<String>,
    /// The signature's text and HTML.
    pub signature: Option<(String, String)>,
    /// Files to attach.
    pub attachments: Vec<Attached>,
    /// The message this answers.
    pub reply: Option<ReplyTo>,
    /// A message to forward, attached whole.
    pub forward: Option<Vec<u8>>,
    /// The `Message-ID` to give it (without brackets).
    pub message_id: String,
}

fn mailbox(field: &str, name: Option<&str>, address: &str) -> Result<Mailbox> {
    let addr = address
        .trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("{address:?} is not an email address")))?;
    Ok(Mailbox::new(
        name.filter(|n| !n.trim().is_empty())
            .map(|n| n.trim().to_string()),
        addr,
    ))
}

/// Builds the message's bytes (CRLF line endings).
pub fn build(c: &Compose) -> Result<Vec<u8>> {
    let mut b = lettre::Message::builder()
        .from(mailbox("from", Some(&c.from_name), &c.from)?)
        .subject(c.subject.clone())
        .message_id(Some(format!("<{}>", c.message_id)))
        .date_now();
    for r in &c.reply_to {
        b = b.reply_to(mailbox("reply_to", None, r)?);
    }
    for r in &c.to {
        b = b.to(mailbox("to", None, r)?);
    }
    for r in &c.cc {
        b = b.cc(mailbox("cc", None, r)?);
    }
    for r in &c.bcc {
        b = b.bcc(mailbox("bcc", None, r)?);
    }
    if !c.bcc.is_empty() {
        b = b.keep_bcc();
    }
    if c.to.is_empty() && c.cc.is_empty() && c.bcc.is_empty() {
        // A draft may have no recipient yet; lettre wants an envelope all the same.
        let me: lettre::Address = c
            .from
            .trim()
            .parse()
            .map_err(|_| Error::invalid("from", "is not an email address"))?;
        let envelope = lettre::address::Envelope::new(Some(me.clone()), vec![me])
            .map_err(|e| Error::Internal(e.to_string()))?;
        b = b.envelope(envelope);
    }
    if let Some(reply) = &c.reply
        && let Some(id) = &reply.message_id
    {
        b = b.in_reply_to(format!("<{id}>"));
        let mut refs: Vec<String> = reply.references.iter().map(|r| format!("<{r}>")).collect();
        refs.push(format!("<{id}>"));
        b = b.references(refs.join(" "));
    }
    let mut text = c.text.clone();
    let mut html = c.html.clone();
    if text.is_none() && html.is_none() {
        text = Some(String::new());
    }
    if let Some((sig_text, sig_html)) = &c.signature {
        if let Some(t) = text.as_mut()
            && !sig_text.is_empty()
        {
            t.push_str("\n\n-- \n");
            t.push_str(sig_text);
        }
        if let Some(h) = html.as_mut() {
            let sig = if sig_html.is_empty() {
                escape(sig_text).replace('\n', "<br>")
            } else {
                sig_html.clone()
            };
            if !sig.is_empty() {
                h.push_str("<br><br>-- <br>");
                h.push_str(&sig);
            }
        }
    }
    if let Some(ReplyTo {
        attribution,
        text: Some(original),
        ..
    }) = &c.reply
    {
        let quoted: String = original
            .lines()
            .map(|l| {
                if l.is_empty() {
                    ">\n".to_string()
                } else {
                    format!("> {l}\n")
                }
            })
            .collect();
        if let Some(t) = text.as_mut() {
            t.push_str(&format!("\n\n{attribution}\n{quoted}"));
        }
        if let Some(h) = html.as_mut() {
            h.push_str(&format!(
                "<br><br>{}<blockquote type=\"cite\">{}</blockquote>",
                escape(attribution),
                escape(original).replace('\n', "<br>")
            ));
        }
    }
    let body = match (text, html) {
        (Some(t), Some(h)) => MultiPart::alternative_plain_html(t, h),
        (Some(t), None) => MultiPart::mixed().singlepart(SinglePart::plain(t)),
        (None, Some(h)) => MultiPart::mixed().singlepart(SinglePart::html(h)),
        (None, None) => MultiPart::mixed().singlepart(SinglePart::plain(String::new())),
    };
    let simple = c.attachments.is_empty() && c.forward.is_none();
    let message = if simple {
        b.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &c.attachments {
            let ct = ContentType::parse(&a.content_type).map_err(|_| {
                Error::invalid(
                    "attachments",
                    format!("{:?} is not a media type", a.content_type),
                )
            })?;
            mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(a.data.clone(), ct));
        }
        if let Some(original) = &c.forward {
            let ct =
                ContentType::parse("message/rfc822").map_err(|e| Error::Internal(e.to_string()))?;
            mixed = mixed
                .singlepart(Attachment::new("forwarded.eml".into()).body(original.clone(), ct));
        }
        b.multipart(mixed)
    }
    .map_err(|e| Error::invalid("to", format!("cannot build the message: {e}")))?;
    Ok(message.formatted())
}

/// The message without its `Bcc` header field (a draft on its way out).
pub fn without_bcc(raw: &[u8]) -> Vec<u8> {
    let (mut out, body) = mailroom_proto::imap::envelope::header_fields(raw, &["Bcc"], false);
    out.extend_from_slice(&raw[body..]);
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::summary::summarize;

    fn base() -> Compose {
        Compose {
            from_name: "Ana".into(),
            from: "ana@x.test".into(),
            to: vec!["bo@y.test".into()],
            subject: "Hello".into(),
            text: Some("Hi Bo".into()),
            message_id: "abc@x.test".into(),
            ..Compose::default()
        }
    }

    #[test]
    fn a_reply_threads_quotes_and_signs() {
        let mut c = base();
        c.signature = Some(("Ana\nAcme".into(), String::new()));
        c.reply = Some(ReplyTo {
            message_id: Some("orig@y.test".into()),
            references: vec!["root@y.test".into()],
            attribution: "On Mon, Bo wrote:".into(),
            text: Some("first\n\nsecond".into()),
        });
        let raw = build(&c).unwrap();
        let s = summarize(&raw);
        assert_eq!(s.in_reply_to, ["orig@y.test"]);
        assert_eq!(s.references, ["root@y.test", "orig@y.test"]);
        assert_eq!(s.message_id.as_deref(), Some("abc@x.test"));
        let text = crate::mail::render::render(&raw, &Default::default())
            .text
            .unwrap()
            .replace("\r\n", "\n");
        assert!(text.contains("Hi Bo\n\n-- \nAna\nAcme"), "{text}");
        assert!(
            text.contains("On Mon, Bo wrote:\n> first\n>\n> second"),
            "{text}"
        );
    }

    #[test]
    fn bcc_is_cut_from_the_header_only() {
        let raw = b"From: a@x.test\r\nBcc: secret@y.test,\r\n other@y.test\r\nTo: b@y.test\r\n\r\nBcc: stays in the body\r\n";
        assert_eq!(
            without_bcc(raw),
            b"From: a@x.test\r\nTo: b@y.test\r\n\r\nBcc: stays in the body\r\n"
        );
    }

    #[test]
    fn attachments_and_bad_addresses() {
        let mut c = base();
        c.html = Some("<p>Hi</p>".into());
        c.attachments = vec![Attached {
            filename: "a.txt".into(),
            content_type: "text/plain".into(),
            data: b"attached".to_vec(),
        }];
        let raw = build(&c).unwrap();
        let s = summarize(&raw);
        assert_eq!(s.attachments.len(), 1, "{}", String::from_utf8_lossy(&raw));
        assert!(s.html_body && s.text_body);
        c.to = vec!["not an address".into()];
        assert!(build(&c).is_err());
    }
}
