use super::*;

const MIXED: &[u8] = b"From: =?utf-8?q?Ana_M=C3=BCller?= <ana@example.com>\r\n\
To: bo@example.net, \"Cy\" <cy@example.org>\r\n\
Cc: Team: dee@example.com, eve@example.com;\r\n\
Subject: =?utf-8?b?UmU6IEjDqWxsbw==?=\r\n\
Date: Tue, 1 Dec 2026 10:00:00 -0500\r\n\
Message-ID: <m2@example.com>\r\n\
In-Reply-To: <m1@example.com>\r\n\
References: <m0@example.com>\r\n <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello   there,\r\nsecond line\r\n\
--b1\r\n\
Content-Type: image/png; name=\"dot.png\"\r\n\
Content-Disposition: attachment; filename=\"=?utf-8?q?d=C3=B6t.png?=\"\r\n\
Content-Transfer-Encoding: Base64\r\n\
Content-ID: <img1@x>\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b1--\r\n\
epilogue\r\n";

fn slice<'a>(raw: &'a [u8], p: &Part) -> (&'a [u8], &'a [u8]) {
    (
        &raw[p.header_start as usize..p.body_start as usize],
        &raw[p.body_start as usize..p.end as usize],
    )
}

#[test]
fn mixed_with_attachment() {
    let s = summarize(MIXED);
    assert!(!s.malformed);
    assert_eq!(s.subject.as_deref(), Some("Re: Héllo"));
    assert_eq!(s.thread_subject, "héllo");
    assert_eq!(
        s.from,
        [Addr {
            name: Some("Ana Müller".into()),
            address: Some("ana@example.com".into())
        }]
    );
    assert_eq!(s.to.len(), 2);
    assert_eq!(s.to[1].name.as_deref(), Some("Cy"));
    let cc: Vec<_> = s.cc.iter().filter_map(|a| a.address.as_deref()).collect();
    assert_eq!(cc, ["dee@example.com", "eve@example.com"]);
    assert_eq!(s.message_id.as_deref(), Some("m2@example.com"));
    assert_eq!(s.in_reply_to, ["m1@example.com"]);
    assert_eq!(s.references, ["m0@example.com", "m1@example.com"]);
    assert_eq!(
        s.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-12-01T15:00:00+00:00")
    );
    assert_eq!(s.preview, "Hello there, second line");
    assert!(s.text_body && !s.html_body);

    let header_end = MIXED.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(s.header_size, header_end as u64);
    let root = &s.body;
    assert_eq!(root.part_id, "");
    assert_eq!(
        (root.content_type.as_str(), root.subtype.as_str()),
        ("multipart", "mixed")
    );
    assert_eq!(root.params, [("boundary".to_string(), "b1".to_string())]);
    assert_eq!((root.header_start, root.end), (0, MIXED.len() as u64));
    assert!(slice(MIXED, root).1.starts_with(b"preamble"));

    let ids: Vec<_> = root.children.iter().map(|p| p.part_id.as_str()).collect();
    assert_eq!(ids, ["1", "2"]);
    let (text, png) = (&root.children[0], &root.children[1]);
    let (mime, body) = slice(MIXED, text);
    assert_eq!(mime, b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
    assert_eq!(body, b"Hello   there,\r\nsecond line");
    // One line feed: the last line has none (the break before the boundary is the boundary's).
    assert_eq!((text.size, text.lines), (body.len() as u64, 1));
    assert_eq!(slice(MIXED, png).1, b"iVBORw0KGgo=");
    assert_eq!(png.encoding.as_deref(), Some("base64"));
    assert_eq!(png.disposition.as_deref(), Some("attachment"));
    assert_eq!(png.content_id.as_deref(), Some("img1@x"));
    assert_eq!(png.lines, 0);

    assert_eq!(
        s.attachments,
        [Attachment {
            part_id: "2".into(),
            name: Some("döt.png".into()),
            content_type: "image/png".into(),
            size: 8,
            content_id: Some("img1@x".into()),
            inline: false,
        }]
    );
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
}

#[test]
fn alternative_and_html_preview() {
    let raw = b"Subject: [team] Fwd: AW: Plan\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\nplain  words\n--a\nContent-Type: text/html; charset=\"UTF-8\"\n\n<p>html <b>words</b></p>\n--a--\n";
    let s = summarize(raw);
    assert!(s.text_body && s.html_body && !s.malformed);
    assert_eq!(s.thread_subject, "plan");
    assert_eq!(s.preview, "plain words");
    assert!(s.attachments.is_empty());
    let html = &s.body.children[1];
    assert_eq!(
        (html.part_id.as_str(), html.subtype.as_str()),
        ("2", "html")
    );
    assert_eq!(html.params, [("charset".to_string(), "UTF-8".to_string())]);
    assert_eq!(slice(raw, html).1, b"<p>html <b>words</b></p>");

    let only_html = summarize(
        b"Content-Type: text/html\n\n<html><body><p>Hi&nbsp;<i>you</i></p>\n<p>there</p></body></html>\n",
    );
    assert!(only_html.html_body && !only_html.text_body);
    assert_eq!(only_html.body.part_id, "1");
    assert!(only_html.preview.starts_with("Hi"), "{}", only_html.preview);
    assert!(only_html.preview.contains("there") && !only_html.preview.contains('<'));
}

const NESTED: &[u8] = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\nplain\r\n--y\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--y--\r\n\r\n--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=fwd.eml\r\n\r\nSubject: single\r\n\r\nbody of single\r\n--x--\r\n";

#[test]
fn nested_messages() {
    let s = summarize(NESTED);
    assert!(!s.malformed);
    assert_eq!(s.preview, "hi");
    let (m2, m3) = (&s.body.children[1], &s.body.children[2]);
    assert_eq!(
        (m2.part_id.as_str(), m2.content_type.as_str()),
        ("2", "message")
    );
    assert_eq!(m2.children.len(), 1);
    let inner = &m2.children[0];
    assert_eq!(
        (inner.part_id.as_str(), inner.subtype.as_str()),
        ("2", "alternative")
    );
    assert_eq!(inner.header_start, m2.body_start);
    assert!(slice(NESTED, inner).0.starts_with(b"Subject: inner\r\n"));
    let ids: Vec<_> = inner.children.iter().map(|p| p.part_id.as_str()).collect();
    assert_eq!(ids, ["2.1", "2.2"]);
    assert_eq!(slice(NESTED, &inner.children[1]).1, b"<b>html</b>");
    assert!(slice(NESTED, m2).1.starts_with(b"Subject: inner"));
    assert!(slice(NESTED, m2).1.ends_with(b"--y--\r\n"));
    assert_eq!(m2.lines, count_lines(slice(NESTED, m2).1));

    let single = &m3.children[0];
    assert_eq!(single.part_id, "3.1");
    assert_eq!(
        slice(NESTED, single),
        (&b"Subject: single\r\n\r\n"[..], &b"body of single"[..])
    );
    assert_eq!(
        slice(NESTED, m3).1,
        b"Subject: single\r\n\r\nbody of single"
    );

    // The enclosed messages are attachments; their own parts are not.
    let att: Vec<_> = s
        .attachments
        .iter()
        .map(|a| (a.part_id.as_str(), a.size))
        .collect();
    assert_eq!(att, [("2", m2.size), ("3", m3.size)]);
    assert_eq!(s.attachments[1].name.as_deref(), Some("fwd.eml"));
    assert_eq!(s.attachments[1].content_type, "message/rfc822");
}

#[test]
fn single_part_and_header_only() {
    let s = summarize(b"Subject: x\n\nbody\n");
    assert_eq!((s.body.part_id.as_str(), s.header_size), ("1", 12));
    assert_eq!((s.body.size, s.body.lines), (5, 1));
    assert_eq!(s.body.content_type, "text");
    let h = summarize(b"Subject: only a header\r\n");
    assert_eq!(h.subject.as_deref(), Some("only a header"));
    assert_eq!((h.header_size, h.body.size), (24, 0));
}

#[test]
fn reply_ids_and_reference_cap() {
    let mut raw = String::from("Message-ID: < a@b >\nIn-Reply-To: <p@x> <q@x>\nReferences:");
    for i in 0..150 {
        raw.push_str(&format!(" <r{i}@x>"));
    }
    raw.push_str("\n\nx\n");
    let s = summarize(raw.as_bytes());
    assert_eq!(s.message_id.as_deref(), Some("a@b"));
    assert_eq!(s.in_reply_to, ["p@x", "q@x"]);
    assert_eq!(s.references.len(), MAX_REFS);
    assert_eq!(s.references[0], "r0@x");
    assert_eq!(s.references[1], "r51@x");
    assert_eq!(s.references[MAX_REFS - 1], "r149@x");
}

#[test]
fn dates() {
    let d = |h: &str| {
        let s = summarize(format!("Date: {h}\n\nx").as_bytes());
        s.date.map(|d| d.to_rfc3339())
    };
    let want = |s: &str| Some(s.to_string());
    assert_eq!(
        d("Thu, 13 Feb 1969 23:32:54 -0330"),
        want("1969-02-14T03:02:54+00:00")
    );
    assert_eq!(d("1 Jan 99 00:00 +0100"), want("1998-12-31T23:00:00+00:00"));
    assert_eq!(d("Mon, 30 Feb 2026 10:00:00 +0000"), None);
    assert_eq!(d("not a date"), None);
}

#[test]
fn subject_normalisation() {
    for (raw, want) in [
        ("Re: Fwd: [list] Hello   World", "hello world"),
        ("RE[2]: AW: sv: Plan", "plan"),
        ("Re (3) : Plan", "plan"),
        ("Plan (fwd)", "plan"),
        ("Plan (FWD) (fwd)", "plan"),
        ("[Fwd: Re: The plan]", "the plan"),
        ("Fw:Re:x", "x"),
        ("[a] [b] Re: [a] x", "x"),
        ("[only a tag]", "[only a tag]"),
        ("回复：会议", "会议"),
        ("Regarding things", "regarding things"),
        ("Re:", ""),
        ("  \t ", ""),
        ("", ""),
    ] {
        assert_eq!(normalize_subject(raw), want, "{raw:?}");
    }
    let long = "re: ".repeat(100_000);
    // Only the first MAX_STR characters are looked at, so this ends in a bare "re".
    assert_eq!(normalize_subject(&long), "re");
}

#[test]
fn degraded_shapes() {
    let s = summarize(b"Content-Type: multipart/mixed\n\nno boundary here\n");
    assert!(s.malformed);
    assert_eq!(
        (s.body.part_id.as_str(), s.body.content_type.as_str()),
        ("1", "text")
    );
    assert!(s.body.children.is_empty());

    let raw = b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaQoKYm9keQo=\n--z--\n";
    let s = summarize(raw);
    let m = &s.body.children[0];
    assert!(s.malformed);
    assert_eq!(
        (m.content_type.as_str(), m.subtype.as_str()),
        ("application", "octet-stream")
    );
    assert!(m.children.is_empty());
    assert_eq!(s.attachments[0].content_type, "message/rfc822");
    assert_eq!(slice(raw, m).1, b"U3ViamVjdDogaQoKYm9keQo=");
}

#[test]
fn garbage_and_lossy_headers() {
    for raw in [
        &b""[..],
        b"\n",
        b"\r\n\r\n",
        b"just some text, no header",
        b"\xff\xfe\x00\x00: \x00",
        b"Subject: caf\xe9 \x00 ok\r\nFrom: \xc3\x28 <a@b>\r\n\r\n\xff body",
    ] {
        let s = summarize(raw);
        assert!(s.body.end == raw.len() as u64 && s.body.header_start == 0);
        for text in [&s.preview, &s.thread_subject] {
            assert!(!text.contains('\0'));
        }
    }
    let s = summarize(b"Subject: caf\xe9 \x00 ok\r\n\r\nx");
    assert_eq!(s.subject.as_deref(), Some("caf\u{fffd}  ok"));
    assert!(summarize(b"").malformed);
    assert!(summarize(b"// Not an RFC-822 Document").malformed);
    assert!(!summarize(b"X-Only: header").malformed);

    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..300)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let alphabet =
                    b"-\r\n:;=<>\"ab Content-Type multipart/mixed boundary message/rfc822";
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        check(&bytes, &summarize(&bytes));
    }
}

#[test]
fn deep_nesting_is_bounded_and_does_not_overflow() {
    let mut msgs = b"Subject: x\n".to_vec();
    for _ in 0..20_000 {
        msgs.extend_from_slice(b"Content-Type: message/rfc822\n\n");
    }
    msgs.extend_from_slice(b"Subject: y\n\nhi\n");
    let mut multi = Vec::new();
    for i in 0..2_000 {
        multi.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
        );
    }
    let mut wide = b"Content-Type: multipart/mixed; boundary=w\n\n".to_vec();
    for _ in 0..3_000 {
        wide.extend_from_slice(b"--w\n\nx\n");
    }
    for raw in [msgs, multi, wide] {
        // A 2 MiB stack, as tokio's worker threads have.
        let s = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let s = summarize(&raw);
                check(&raw, &s);
                s
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(s.malformed);
        assert!(depth(&s.body) <= MAX_DEPTH + 1 && count(&s.body) <= MAX_PARTS);
    }
}

fn depth(p: &Part) -> usize {
    1 + p.children.iter().map(depth).max().unwrap_or(0)
}

fn count(p: &Part) -> usize {
    1 + p.children.iter().map(count).sum::<usize>()
}

/// The structural promises of the module docs.
fn check_part(p: &Part, lo: u64, hi: u64) {
    assert!(
        lo <= p.header_start && p.header_start <= p.body_start,
        "{p:?}"
    );
    assert!(p.body_start <= p.end && p.end <= hi, "{p:?}");
    assert_eq!(p.size, p.end - p.body_start);
    if p.content_type == "multipart" {
        assert!(!p.children.is_empty(), "{p:?}");
    }
    if p.content_type == "message" && matches!(p.subtype.as_str(), "rfc822" | "global") {
        assert_eq!(p.children.len(), 1, "{p:?}");
    }
    let mut prev = p.body_start;
    for c in &p.children {
        assert!(c.header_start >= prev, "siblings overlap in {p:?}");
        prev = c.end;
        check_part(c, p.body_start, p.end);
    }
}

fn check(raw: &[u8], s: &Summary) {
    assert_eq!((s.body.header_start, s.body.end), (0, raw.len() as u64));
    assert_eq!(s.header_size, s.body.body_start);
    check_part(&s.body, 0, raw.len() as u64);
    assert!(s.preview.chars().count() <= PREVIEW_CHARS);
    let json = serde_json::to_string(s).unwrap();
    assert_eq!(&serde_json::from_str::<Summary>(&json).unwrap(), s);
    let strings = s.subject.iter().chain(&s.references).chain(&s.in_reply_to);
    for t in strings.chain([&s.preview, &s.thread_subject]) {
        assert!(!t.chars().any(char::is_control), "{t:?}");
    }
    for a in s.from.iter().chain(&s.to).chain(&s.cc) {
        for t in a.name.iter().chain(&a.address) {
            assert!(!t.chars().any(char::is_control), "{t:?}");
        }
    }
}

#[test]
fn the_torture_corpus() {
    let files = crate::mail::torture_files();
    let mut malformed = 0;
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let s = summarize(&raw);
        check(&raw, &s);
        malformed += usize::from(s.malformed);
        for n in [
            0,
            1,
            raw.len() / 3,
            raw.len() / 2,
            raw.len().saturating_sub(1),
        ] {
            check(&raw[..n], &summarize(&raw[..n]));
        }
    }
    assert!(
        malformed < files.len() / 4,
        "{malformed} of {} malformed",
        files.len()
    );
}

#[test]
fn every_truncation() {
    for raw in [MIXED, NESTED] {
        for n in 0..=raw.len() {
            check(&raw[..n], &summarize(&raw[..n]));
        }
    }
}
