//! Custom domains against a real DNS server.

use crate::common::*;
use crate::dns::{DnsServer, Rec};
use reqwest::Method;
use serde_json::{Value, json};

pub const MAIL_HOST: &str = "mx.mailroom.test";

/// A test app resolving through `dns`.
pub async fn app_with_dns(
    dns: &DnsServer,
    tweak: impl FnOnce(&mut mailroom_core::config::Config),
) -> TestApp {
    let ns = dns.addr();
    TestApp::spawn_with(|c| {
        c.dns.nameservers = vec![ns];
        c.dns.timeout_ms = 1000;
        c.dns.attempts = 1;
        c.public_hostname = MAIL_HOST.into();
        tweak(c);
    })
    .await
}

pub fn unique_domain() -> String {
    format!("d{}.com", rand_suffix())
}

/// Turns the API's record list into what dnsmasq serves: everything published as asked.
pub fn as_published(records: &Value) -> Vec<Rec> {
    let mut out = vec![Rec::Host(MAIL_HOST.into(), "127.0.0.1".into())];
    for r in records.as_array().unwrap() {
        let (name, value) = (
            r["name"].as_str().unwrap().to_string(),
            r["value"].as_str().unwrap().to_string(),
        );
        let parts: Vec<&str> = value.split_whitespace().collect();
        out.push(match r["type"].as_str().unwrap() {
            "TXT" => Rec::Txt(name, vec![value]),
            "MX" => Rec::Mx(name, parts[1].into(), parts[0].parse().unwrap()),
            other => panic!("unexpected record type {other}"),
        });
    }
    out
}

fn by_purpose<'a>(records: &'a Value, purpose: &str) -> Vec<&'a Value> {
    records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["purpose"] == purpose)
        .collect()
}

fn status_of(records: &Value, purpose: &str) -> String {
    by_purpose(records, purpose)
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(",")
}

/// `POST /v1/domains/{id}/verify`.
async fn verify(app: &TestApp, token: &str, id: &str) -> Resp {
    app.post(&format!("/v1/domains/{id}/verify"), token, json!({}))
        .await
}

/// Adds a domain for `t` and returns (id, records to publish).
pub async fn add_domain(app: &TestApp, token: &str, name: &str) -> (String, Value) {
    let r = app.post("/v1/domains", token, json!({"name": name})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    let recs = app
        .get(&format!("/v1/domains/{id}/dns-records"), token)
        .await;
    assert_eq!(recs.status, 200, "{recs:?}");
    (id, recs.body["records"].clone())
}

#[tokio::test]
async fn a_domain_with_every_record_right_verifies_and_is_ready() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name, "mailroom.test"], &[]).await;
    let app = app_with_dns(&dns, |_| {}).await;
    let t = app.tenant().await;
    let (id, records) = add_domain(&app, &t.owner_token, &name).await;
    let purposes: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["purpose"].as_str().unwrap())
        .collect();
    // Exactly the records of services that run: no SRV or autoconfig records pointing at
    // IMAP, POP3 or submission ports that answer nothing.
    let mut distinct = purposes.clone();
    distinct.dedup();
    assert_eq!(distinct, ["ownership", "mx", "spf", "dkim", "dmarc"]);
    assert_eq!(by_purpose(&records, "dkim").len(), 2, "RSA and Ed25519");
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "missing"),
        "{records}"
    );
    let own = by_purpose(&records, "ownership")[0];
    assert_eq!(own["name"], format!("_mailroom.{name}"));
    assert_eq!(own["type"], "TXT");
    assert_eq!(own["required"], true);
    let spf = by_purpose(&records, "spf")[0];
    assert!(
        spf["value"]
            .as_str()
            .unwrap()
            .contains("include:_spf.mx.mailroom.test")
    );
    assert!(
        by_purpose(&records, "dkim")[0]["value"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=rsa; p=")
    );

    // Not yet published: verifying leaves it pending.
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(
        (
            v.body["verified"].as_bool(),
            v.body["domain"]["status"].as_str()
        ),
        (Some(false), Some("pending"))
    );

    // Publish everything; the ownership TXT split into two strings, in other case, with spaces.
    let mut published = as_published(&records);
    let token_value = own["value"].as_str().unwrap().to_uppercase();
    let (a, b) = token_value.split_at(10);
    published.retain(|r| !matches!(r, Rec::Txt(n, _) if n.starts_with("_mailroom.")));
    published.push(Rec::Txt(
        format!("_mailroom.{name}"),
        vec![format!(" {a}"), format!("{b} ")],
    ));
    published.push(Rec::Txt(
        format!("_mailroom.{name}"),
        vec!["some-other-verification=1".into()],
    ));
    dns.serve(&published).await;

    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(v.status, 200, "{v:?}");
    let bad: Vec<&Value> = v.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "ok")
        .collect();
    assert!(bad.is_empty(), "not ok: {bad:?}");
    assert_eq!(v.body["verified"], true);
    assert_eq!(v.body["ready_to_receive"], true);
    assert_eq!(v.body["ready_to_send"], true);
    let d = app.get(&format!("/v1/domains/{id}"), &t.owner_token).await;
    assert_eq!(d.body["status"], "verified");
    assert!(d.body["verified_at"].is_string() && d.body["last_checked_at"].is_string());
    let ev = app
        .get("/v1/events?kind=domain.verified", &t.owner_token)
        .await;
    assert_eq!(ev.body["items"][0]["object_id"], id.as_str());
    let found = &by_purpose(&v.body["records"], "ownership")[0]["found"];
    assert_eq!(
        found.as_array().unwrap().len(),
        2,
        "both TXT records reported: {found}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_leaves_the_domain_pending() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name], &[]).await;
    let app = app_with_dns(&dns, |_| {}).await;
    let t = app.tenant().await;
    let (id, _) = add_domain(&app, &t.owner_token, &name).await;
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(status_of(&v.body["records"], "ownership"), "missing");
    dns.serve(&[Rec::Txt(
        format!("_mailroom.{name}"),
        vec!["mailroom-verification=0000".into()],
    )])
    .await;
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(status_of(&v.body["records"], "ownership"), "mismatch");
    assert_eq!(
        by_purpose(&v.body["records"], "ownership")[0]["found"],
        json!(["mailroom-verification=0000"])
    );
    assert_eq!(v.body["domain"]["status"], "pending");
    assert_eq!(v.body["verified"], false);
}

#[tokio::test]
async fn mx_elsewhere_and_two_spf_records_are_reported() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name, "mailroom.test"], &[]).await;
    let app = app_with_dns(&dns, |_| {}).await;
    let t = app.tenant().await;
    let (id, records) = add_domain(&app, &t.owner_token, &name).await;
    let mut published = as_published(&records);
    published.retain(|r| {
        !matches!(r, Rec::Mx(..))
            && !matches!(r, Rec::Txt(n, v) if n == &name && v[0].starts_with("v=spf1"))
    });
    published.push(Rec::Mx(name.clone(), "mx.other-provider.net".into(), 10));
    published.push(Rec::Txt(
        name.clone(),
        vec!["v=spf1 include:_spf.mx.mailroom.test ~all".into()],
    ));
    published.push(Rec::Txt(
        name.clone(),
        vec!["v=spf1 include:_spf.google.com ~all".into()],
    ));
    dns.serve(&published).await;
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(v.body["verified"], true, "ownership is fine: {v:?}");
    let mx = by_purpose(&v.body["records"], "mx")[0];
    assert_eq!(mx["status"], "mismatch");
    assert_eq!(mx["found"], json!(["10 mx.other-provider.net"]));
    assert!(
        mx["detail"]
            .as_str()
            .unwrap()
            .contains("mx.other-provider.net")
    );
    let spf = by_purpose(&v.body["records"], "spf")[0];
    assert_eq!(spf["status"], "mismatch");
    assert!(
        spf["detail"].as_str().unwrap().starts_with("permerror"),
        "{spf}"
    );
    assert_eq!(spf["found"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            v.body["ready_to_receive"].as_bool(),
            v.body["ready_to_send"].as_bool()
        ),
        (Some(false), Some(false))
    );
}

#[tokio::test]
async fn dkim_rotation_waits_for_the_new_record_then_retires_the_old_key() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name, "mailroom.test"], &[]).await;
    let app = app_with_dns(&dns, |c| c.domains.dkim_rotation_grace_secs = 0).await;
    let t = app.tenant().await;
    let (id, records) = add_domain(&app, &t.owner_token, &name).await;
    let published = as_published(&records);
    dns.serve(&published).await;
    assert_eq!(
        verify(&app, &t.owner_token, &id).await.body["ready_to_send"],
        true
    );
    let old = app
        .get(&format!("/v1/domains/{id}"), &t.owner_token)
        .await
        .body["dkim_keys"][0]["selector"]
        .clone();

    let r = app
        .post(
            &format!("/v1/domains/{id}/dkim/rotate"),
            &t.owner_token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let keys = r.body["dkim_keys"].as_array().unwrap().clone();
    let new = keys
        .iter()
        .find(|k| k["status"] == "pending")
        .unwrap()
        .clone();
    assert_ne!(new["selector"], old);
    assert_eq!(
        app.post(
            &format!("/v1/domains/{id}/dkim/rotate"),
            &t.owner_token,
            json!({})
        )
        .await
        .code(),
        "rotation_in_progress"
    );

    // Old record only: the new key is missing, the old one keeps signing.
    let v = verify(&app, &t.owner_token, &id).await;
    let new_rec = |v: &Value| {
        by_purpose(&v["records"], "dkim")
            .into_iter()
            .find(|r| {
                r["name"]
                    .as_str()
                    .unwrap()
                    .starts_with(new["selector"].as_str().unwrap())
            })
            .unwrap()
            .clone()
    };
    assert_eq!(new_rec(&v.body)["status"], "missing");
    assert_eq!(
        v.body["ready_to_send"], false,
        "a required new key is missing"
    );
    let status_of_key = |body: &Value, sel: &Value| {
        body["dkim_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| &k["selector"] == sel)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of_key(&v.body["domain"], &old), "active");

    // A wrong key under the new selector is a mismatch, and nothing changes.
    let new_name = format!("{}._domainkey.{name}", new["selector"].as_str().unwrap());
    let mut wrong = published.clone();
    wrong.push(Rec::Txt(
        new_name.clone(),
        vec![format!("v=DKIM1; k=rsa; p={}", "A".repeat(40))],
    ));
    dns.serve(&wrong).await;
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(new_rec(&v.body)["status"], "mismatch");
    assert_eq!(
        status_of_key(&v.body["domain"], &new["selector"]),
        "pending"
    );

    // The right key: the new key signs, the old one retires after the grace period.
    let mut right = published.clone();
    right.push(Rec::Txt(
        new_name,
        vec![format!(
            "v=DKIM1; k=rsa; p={}",
            new["public_key"].as_str().unwrap()
        )],
    ));
    dns.serve(&right).await;
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(status_of_key(&v.body["domain"], &new["selector"]), "active");
    assert_eq!(status_of_key(&v.body["domain"], &old), "retiring");
    let retiring = v.body["domain"]["dkim_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["selector"] == old)
        .unwrap()
        .clone();
    assert!(retiring["retire_at"].is_string());
    let ev = app
        .get("/v1/events?kind=domain.dkim_rotated", &t.owner_token)
        .await;
    assert_eq!(ev.body["items"].as_array().unwrap().len(), 1);
    // The grace period (zero here) over, the next check retires the old key.
    let v = verify(&app, &t.owner_token, &id).await;
    assert_eq!(status_of_key(&v.body["domain"], &old), "retired");
    assert_eq!(v.body["ready_to_send"], true);
}

#[tokio::test]
async fn a_silent_dns_server_gives_error_not_missing() {
    // A UDP socket that reads and never answers; nothing listens on TCP.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let app = TestApp::spawn_with(|c| {
        c.dns.nameservers = vec![addr];
        c.dns.timeout_ms = 500;
        c.dns.attempts = 1;
    })
    .await;
    let t = app.tenant().await;
    let name = unique_domain();
    let r = app
        .post("/v1/domains", &t.owner_token, json!({"name": name}))
        .await;
    let id = r.body["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let v = verify(&app, &t.owner_token, id).await;
    let took = started.elapsed();
    assert_eq!(v.status, 200, "{v:?}");
    for rec in v.body["records"].as_array().unwrap() {
        assert_eq!(rec["status"], "error", "{rec}");
        assert!(rec["detail"].as_str().unwrap().contains("try again"));
    }
    assert_eq!(v.body["domain"]["status"], "pending");
    // Bounded by the resolver's timeout, not hanging (generous: this is no benchmark).
    assert!(
        took < std::time::Duration::from_secs(20),
        "verify took {took:?}"
    );
    drop(silent);
}

#[tokio::test]
async fn idn_domains_are_stored_as_punycode_and_verify() {
    let label = format!("bücher-{}", rand_suffix());
    let unicode = format!("{label}.com");
    let ascii = idna_ascii(&unicode);
    let mut dns = DnsServer::start(&[&ascii], &[]).await;
    let app = app_with_dns(&dns, |_| {}).await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": format!("{}.", unicode.to_uppercase())}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["name"], ascii);
    assert!(ascii.starts_with("xn--"));
    assert_eq!(r.body["unicode_name"], unicode);
    let id = r.body["id"].as_str().unwrap();
    dns.serve(&[Rec::Txt(
        format!("_mailroom.{ascii}"),
        vec![
            r.body["verification"]["value"]
                .as_str()
                .unwrap()
                .to_string(),
        ],
    )])
    .await;
    let v = verify(&app, &t.owner_token, id).await;
    assert_eq!(v.body["verified"], true, "{v:?}");
    let dup = app
        .post("/v1/domains", &t.owner_token, json!({"name": ascii}))
        .await;
    assert_eq!((dup.status.as_u16(), dup.code()), (409, "domain_exists"));
}

fn idna_ascii(unicode: &str) -> String {
    // The expected punycode, computed independently of the server by the same standard.
    let mut out = Vec::new();
    for label in unicode.split('.') {
        if label.is_ascii() {
            out.push(label.to_string());
        } else {
            out.push(format!("xn--{}", punycode_encode(label)));
        }
    }
    out.join(".")
}

/// RFC 3492 encoder (small, for the test's own expectation).
fn punycode_encode(input: &str) -> String {
    let (base, tmin, tmax, skew, damp) = (36u32, 1u32, 26u32, 38u32, 700u32);
    let cps: Vec<u32> = input.chars().map(|c| c as u32).collect();
    let mut out: String = input.chars().filter(|c| c.is_ascii()).collect();
    let b = out.len() as u32;
    if b > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut h) = (128u32, 0u32, 72u32, b);
    let digit = |d: u32| {
        if d < 26 {
            (b'a' + d as u8) as char
        } else {
            (b'0' + (d - 26) as u8) as char
        }
    };
    let adapt = |mut delta: u32, numpoints: u32, first: bool| {
        delta = if first { delta / damp } else { delta / 2 };
        delta += delta / numpoints;
        let mut k = 0;
        while delta > ((base - tmin) * tmax) / 2 {
            delta /= base - tmin;
            k += base;
        }
        k + (base - tmin + 1) * delta / (delta + skew)
    };
    while (h as usize) < cps.len() {
        let m = *cps.iter().filter(|&&c| c >= n).min().unwrap();
        delta += (m - n) * (h + 1);
        n = m;
        for &c in &cps {
            if c < n {
                delta += 1;
            }
            if c == n {
                let mut q = delta;
                let mut k = base;
                loop {
                    let t = if k <= bias {
                        tmin
                    } else if k >= bias + tmax {
                        tmax
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (base - t)));
                    q = (q - t) / (base - t);
                    k += base;
                }
                out.push(digit(q));
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                h += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    out
}

#[tokio::test]
async fn two_tenants_racing_for_one_name_leave_exactly_one_owner() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name], &[]).await;
    let app = app_with_dns(&dns, |_| {}).await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let (a_id, _) = add_domain(&app, &a.owner_token, &name).await;
    let (b_id, _) = add_domain(&app, &b.owner_token, &name).await;
    let token = |t: &str, id: &str| {
        let app = &app;
        let (t, id) = (t.to_string(), id.to_string());
        async move {
            app.get(&format!("/v1/domains/{id}"), &t).await.body["verification"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (ta, tb) = (
        token(&a.owner_token, &a_id).await,
        token(&b.owner_token, &b_id).await,
    );
    dns.serve(&[
        Rec::Txt(format!("_mailroom.{name}"), vec![ta]),
        Rec::Txt(format!("_mailroom.{name}"), vec![tb]),
    ])
    .await;

    let (pa, pb) = (
        format!("/v1/domains/{a_id}/verify"),
        format!("/v1/domains/{b_id}/verify"),
    );
    let (va, vb) = tokio::join!(
        app.post(&pa, &a.owner_token, json!({})),
        app.post(&pb, &b.owner_token, json!({})),
    );
    assert_eq!(
        (va.status.as_u16(), vb.status.as_u16()),
        (200, 200),
        "{va:?} {vb:?}"
    );
    let winners = [&va, &vb]
        .iter()
        .filter(|v| v.body["verified"] == true)
        .count();
    assert_eq!(winners, 1, "a: {va:?}\nb: {vb:?}");
    let (winner, loser, loser_id, loser_token) = if va.body["verified"] == true {
        (&a, &b, &b_id, &b.owner_token)
    } else {
        (&b, &a, &a_id, &a.owner_token)
    };
    let l = app
        .get(&format!("/v1/domains/{loser_id}"), loser_token)
        .await;
    assert_eq!(l.body["status"], "owned_by_another_tenant");
    let again = verify(&app, loser_token, loser_id).await;
    assert_eq!(again.body["verified"], false);
    let claim = app
        .post(
            "/v1/domains",
            &app.tenant().await.owner_token,
            json!({"name": name}),
        )
        .await;
    assert_eq!(
        (claim.status.as_u16(), claim.code()),
        (409, "domain_owned_by_another_tenant")
    );

    // The owner removes it: the name is free and the other claim can verify.
    let winner_id = app.get("/v1/domains", &winner.owner_token).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.delete(&format!("/v1/domains/{winner_id}"), &winner.owner_token)
            .await
            .status,
        204
    );
    let v = verify(&app, &loser.owner_token, loser_id).await;
    assert_eq!(v.body["verified"], true, "{v:?}");
}

#[tokio::test]
async fn bad_names_public_suffixes_and_plan_limits_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for (name, code) in [
        ("not a domain", "invalid_domain"),
        ("com", "invalid_domain"),
        ("co.uk", "public_suffix"),
        ("github.io", "public_suffix"),
        ("-x.com", "invalid_domain"),
    ] {
        let r = app
            .post("/v1/domains", &t.owner_token, json!({"name": name}))
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code), "{name}: {r:?}");
        assert_eq!(r.body["errors"][0]["field"], "name");
    }
    app.patch(
        &format!("/v1/tenants/{}", t.id),
        &app.admin_token,
        json!({"limits": {"max_domains": 1}}),
    )
    .await;
    assert_eq!(
        app.post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": unique_domain()})
        )
        .await
        .status,
        201
    );
    let r = app
        .post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": unique_domain()}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "plan_limit_reached"));
    let (_, _, member) = app.user(&t, "member").await;
    assert_eq!(app.get("/v1/domains", &member).await.status, 200);
    assert_eq!(
        app.post("/v1/domains", &member, json!({"name": unique_domain()}))
            .await
            .code(),
        "insufficient_scope"
    );
}

#[tokio::test]
async fn another_tenant_cannot_see_or_touch_a_domain() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let r = app
        .post(
            "/v1/domains",
            &a.owner_token,
            json!({"name": unique_domain()}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let (_, b_key) = app
        .api_key(&b.owner_token, &["domains:write", "events:read"])
        .await;
    for cred in [&b.owner_token, &b_key] {
        assert_eq!(
            app.get(&format!("/v1/domains/{id}"), cred).await.status,
            404
        );
        assert_eq!(
            app.get(&format!("/v1/domains/{id}/dns-records"), cred)
                .await
                .status,
            404
        );
        assert_eq!(
            app.patch(
                &format!("/v1/domains/{id}"),
                cred,
                json!({"dmarc_policy": "none"})
            )
            .await
            .status,
            404
        );
        assert_eq!(verify(&app, cred, &id).await.status, 404);
        assert_eq!(
            app.post(&format!("/v1/domains/{id}/dkim/rotate"), cred, json!({}))
                .await
                .status,
            404
        );
        assert_eq!(
            app.delete(&format!("/v1/domains/{id}"), cred).await.status,
            404
        );
        let list = app.get("/v1/domains", cred).await;
        assert!(!list.text.contains(&id));
        assert!(!app.get("/v1/events", cred).await.text.contains(&id));
    }
    assert_eq!(
        app.get(&format!("/v1/domains/{id}"), &a.owner_token)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn dkim_private_keys_are_sealed_at_rest_and_never_shown() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": unique_domain()}),
        )
        .await;
    assert!(!r.text.contains("private"), "{r:?}");
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use mailroom_core::store::entities::dkim_keys;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = dkim_keys::Entity::find()
        .filter(dkim_keys::Column::DomainId.eq(id))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for k in &rows {
        assert!(
            k.private_key.starts_with("v1:"),
            "not sealed: {}",
            &k.private_key[..10]
        );
        assert!(!k.private_key.contains("MII"), "PKCS#8 in clear");
    }
    // The keys open with this deployment's master key, and with no other.
    let secrets = mailroom_core::secrets::Secrets::load(&app.cfg).unwrap();
    let svc = mailroom_core::domains::DomainService::new(&app.cfg, &secrets.master).unwrap();
    let tid: uuid::Uuid = t.id.parse().unwrap();
    let store = app
        .store()
        .system()
        .tenant_for_job(tid, "test")
        .await
        .unwrap()
        .unwrap();
    let keys = store.signing_keys(&svc, id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|(_, _, der)| der[0] == 0x30),
        "not PKCS#8 DER"
    );
    let other =
        mailroom_core::domains::DomainService::new(&app.cfg, b"a different master key, 32+ chars")
            .unwrap();
    assert!(store.signing_keys(&other, id).await.is_err());
}

#[tokio::test]
async fn the_worker_rechecks_and_a_broken_verified_domain_raises_dns_error() {
    let name = unique_domain();
    let mut dns = DnsServer::start(&[&name, "mailroom.test"], &[]).await;
    let app = TestApp::spawn_isolated_with(|c| {
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 1000;
        c.dns.attempts = 1;
        c.public_hostname = MAIL_HOST.into();
        c.jobs.enabled = true;
        c.jobs.scheduler_interval_secs = 1;
        c.domains.verified_recheck_secs = 1;
        c.domains.pending_recheck_secs = 1;
    })
    .await;
    let t = app.tenant().await;
    let (id, records) = add_domain(&app, &t.owner_token, &name).await;
    let published = as_published(&records);
    dns.serve(&published).await;
    // The worker verifies it by itself.
    let verified = eventually(30, || async {
        app.get(&format!("/v1/domains/{id}"), &t.owner_token)
            .await
            .body["status"]
            == "verified"
    })
    .await;
    assert!(verified, "the worker did not verify the domain");

    // MX removed: the domain keeps working but the failing record shows and an event is raised.
    let broken: Vec<Rec> = published
        .into_iter()
        .filter(|r| !matches!(r, Rec::Mx(..)))
        .collect();
    dns.serve(&broken).await;
    let raised = eventually(30, || async {
        app.get("/v1/events?kind=domain.dns_error", &t.owner_token)
            .await
            .body["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
    })
    .await;
    assert!(raised, "no domain.dns_error event");
    let ev = app
        .get("/v1/events?kind=domain.dns_error", &t.owner_token)
        .await;
    assert!(
        ev.body["items"][0]["payload"]["failing"]
            .to_string()
            .contains("mx"),
        "{ev:?}"
    );
    let d = app.get(&format!("/v1/domains/{id}"), &t.owner_token).await;
    assert_eq!(d.body["status"], "verified");
    assert_eq!(d.body["ready_to_receive"], false);
    // One event per change, not one per check.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let ev = app
        .get("/v1/events?kind=domain.dns_error", &t.owner_token)
        .await;
    assert_eq!(ev.body["items"].as_array().unwrap().len(), 1, "{ev:?}");
    let _ = app.call(Method::GET, "/healthz", None, None).await;
}

#[tokio::test]
async fn the_query_deadline_bounds_a_silent_dns_server() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    // Without the deadline this resolver would wait 3 s × 2 tries, then try TCP.
    let app = TestApp::spawn_with(|c| {
        c.dns.nameservers = vec![addr];
        c.dns.timeout_ms = 3000;
        c.dns.attempts = 2;
        c.dns.query_deadline_ms = 1000;
    })
    .await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": unique_domain()}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let v = verify(&app, &t.owner_token, id).await;
    let took = started.elapsed();
    assert!(
        v.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "error"),
        "{v:?}"
    );
    assert!(
        v.body["records"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("within 1000 ms"),
        "{v:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}: the deadline did not apply"
    );
    drop(silent);
}
