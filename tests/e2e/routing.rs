//! Aliases, groups, domain aliases and the address resolver.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use reqwest::Method;
use serde_json::{Value, json};

async fn resolve(app: &TestApp, token: &str, address: &str) -> Value {
    let r = app
        .get(
            &format!(
                "/v1/routing/resolve?address={}",
                address.replace('+', "%2B")
            ),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn delivered(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["address"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn alias(app: &TestApp, token: &str, domain_id: &str, local: &str, dests: &[&str]) -> Value {
    let r = app
        .post(
            "/v1/aliases",
            token,
            json!({"domain_id": domain_id, "local_part": local, "destinations": dests}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body
}

async fn group(
    app: &TestApp,
    token: &str,
    domain_id: &str,
    local: &str,
    members: &[&str],
) -> Value {
    let r = app
        .post(
            "/v1/groups",
            token,
            json!({"domain_id": domain_id, "local_part": local, "members": members}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body
}

#[tokio::test]
async fn the_resolver_follows_every_rule_in_order_of_precedence() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (a_id, a) = fixture_verified_domain(&app, tok).await;
    let (b_id, b) = fixture_verified_domain(&app, tok).await;
    let (_, ana) = mailbox(&app, tok, &a_id, "ana").await;
    let (_, bo) = mailbox(&app, tok, &a_id, "bo").await;
    let (cy_id, cy) = mailbox(&app, tok, &a_id, "cy").await;

    // Exact, case-insensitive; sub-address.
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("ANA@{}", a.to_uppercase())).await),
        vec![ana.clone()]
    );
    let r = resolve(&app, tok, &format!("ana+newsletters@{a}")).await;
    assert_eq!(delivered(&r), vec![ana.clone()]);
    assert!(r["trace"].to_string().contains("sub-address"), "{r}");

    // Alias, with an external destination.
    alias(
        &app,
        tok,
        &a_id,
        "sales",
        &[&ana, &bo, "partner@elsewhere.example"],
    )
    .await;
    let r = resolve(&app, tok, &format!("sales@{a}")).await;
    assert_eq!(delivered(&r), vec![ana.clone(), bo.clone()]);
    assert_eq!(r["external"], json!(["partner@elsewhere.example"]));

    // A group containing an alias and a mailbox already in it: each mailbox once.
    group(&app, tok, &a_id, "team", &[&ana, &format!("sales@{a}")]).await;
    let r = resolve(&app, tok, &format!("team@{a}")).await;
    assert_eq!(delivered(&r), vec![ana.clone(), bo.clone()]);

    // Nested groups that contain each other: the loop is cut.
    group(&app, tok, &a_id, "g1", &[&cy]).await;
    let g2 = group(&app, tok, &a_id, "g2", &[&format!("g1@{a}"), &bo]).await;
    let g1 = app.get("/v1/groups", tok).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["local_part"] == "g1")
        .unwrap()
        .clone();
    app.patch(
        &format!("/v1/groups/{}", g1["id"].as_str().unwrap()),
        tok,
        json!({"members": [cy, format!("g2@{a}")]}),
    )
    .await;
    let r = resolve(&app, tok, &format!("g2@{a}")).await;
    assert_eq!(delivered(&r), vec![bo.clone(), cy.clone()]);
    assert!(r["trace"].to_string().contains("loop cut"), "{r}");
    assert!(g2["members"].as_array().unwrap().len() == 2);

    // Unknown without a catch-all; then a catch-all takes it, but exact and sub-addresses win.
    let r = resolve(&app, tok, &format!("nobody@{a}")).await;
    assert_eq!(r["rejected"]["code"], "unknown_recipient");
    alias(&app, tok, &a_id, "*", &[&bo]).await;
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("nobody@{a}")).await),
        vec![bo.clone()]
    );
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("ana@{a}")).await),
        vec![ana.clone()]
    );
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("ana+x@{a}")).await),
        vec![ana.clone()]
    );
    let dup = app
        .post(
            "/v1/aliases",
            tok,
            json!({"domain_id": a_id, "local_part": "*", "destinations": [ana]}),
        )
        .await;
    assert_eq!(dup.code(), "address_taken");

    // Domain alias: b delivers as a, but b's own addresses come first.
    let (_, dora) = mailbox(&app, tok, &b_id, "dora").await;
    let r = app
        .patch(
            &format!("/v1/domains/{b_id}"),
            tok,
            json!({"alias_of": a_id}),
        )
        .await;
    assert_eq!(r.body["alias_of"], a_id.as_str(), "{r:?}");
    let r = resolve(&app, tok, &format!("ana@{b}")).await;
    assert_eq!(delivered(&r), vec![ana.clone()]);
    assert!(r["trace"].to_string().contains("domain alias"), "{r}");
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("dora@{b}")).await),
        vec![dora.clone()]
    );
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("whoever@{b}")).await),
        vec![bo.clone()],
        "a's catch-all through the alias"
    );
    assert_eq!(
        app.patch(
            &format!("/v1/domains/{a_id}"),
            tok,
            json!({"alias_of": b_id})
        )
        .await
        .status,
        400,
        "alias chains are refused"
    );
    app.patch(
        &format!("/v1/domains/{b_id}"),
        tok,
        json!({"alias_of": null}),
    )
    .await;
    assert_eq!(
        resolve(&app, tok, &format!("ana@{b}")).await["rejected"]["code"],
        "unknown_recipient"
    );

    // Suspended: refused directly, skipped inside a group.
    app.patch(
        &format!("/v1/mailboxes/{cy_id}"),
        tok,
        json!({"status": "suspended"}),
    )
    .await;
    assert_eq!(
        resolve(&app, tok, &cy).await["rejected"]["code"],
        "mailbox_suspended"
    );
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("g2@{a}")).await),
        vec![bo.clone()]
    );

    // Not ours; not an address.
    assert_eq!(
        resolve(&app, tok, "someone@gmail.example").await["rejected"]["code"],
        "not_our_domain"
    );
    assert_eq!(
        resolve(&app, tok, "no-at-sign").await["rejected"]["code"],
        "invalid_address"
    );
}

#[tokio::test]
async fn expansion_is_bounded_in_depth_and_size() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (a_id, a) = fixture_verified_domain(&app, tok).await;
    let (_, ana) = mailbox(&app, tok, &a_id, "ana").await;
    // A chain of 12 aliases: the mailbox at its end is deeper than 10 levels.
    let mut next = ana.clone();
    for i in (0..12).rev() {
        alias(&app, tok, &a_id, &format!("chain{i}"), &[&next]).await;
        next = format!("chain{i}@{a}");
    }
    let r = resolve(&app, tok, &format!("chain0@{a}")).await;
    assert!(delivered(&r).is_empty(), "{r}");
    assert!(r["trace"].to_string().contains("deeper than 10"), "{r}");
    assert_eq!(
        delivered(&resolve(&app, tok, &format!("chain5@{a}")).await),
        vec![ana.clone()]
    );

    // 3 × 400 external members: over 1,000 recipients.
    let mut parts = Vec::new();
    for p in 0..3 {
        let members: Vec<String> = (0..400).map(|i| format!("m{p}-{i}@list.example")).collect();
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        group(&app, tok, &a_id, &format!("part{p}"), &refs).await;
        parts.push(format!("part{p}@{a}"));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    group(&app, tok, &a_id, "everyone", &refs).await;
    let r = resolve(&app, tok, &format!("everyone@{a}")).await;
    assert_eq!(
        r["rejected"]["code"],
        "expansion_limit",
        "{} external, trace {}",
        r["external"].as_array().map_or(0, |e| e.len()),
        r["trace"]
    );
    let r = resolve(&app, tok, &format!("part1@{a}")).await;
    assert_eq!(r["external"].as_array().unwrap().len(), 400);
}

#[tokio::test]
async fn addresses_are_one_namespace_and_destinations_are_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (a_id, a) = fixture_verified_domain(&app, tok).await;
    let (_, ana) = mailbox(&app, tok, &a_id, "ana").await;
    let r = app
        .post(
            "/v1/aliases",
            tok,
            json!({"domain_id": a_id, "local_part": "ana", "destinations": [ana]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "address_taken"));
    let sales = alias(&app, tok, &a_id, "sales", &[&ana]).await;
    let r = app
        .post(
            "/v1/groups",
            tok,
            json!({"domain_id": a_id, "local_part": "Sales", "members": [ana]}),
        )
        .await;
    assert_eq!(r.code(), "address_taken");
    let r = app
        .post(
            "/v1/mailboxes",
            tok,
            json!({"domain_id": a_id, "local_part": "sales", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.code(), "address_taken");

    let r = app
        .post("/v1/aliases", tok, json!({"domain_id": a_id, "local_part": "x", "destinations": [format!("ghost@{a}"), "not an address", format!("x@{a}")]}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["destinations[0]", "destinations[1]", "destinations[2]"]
    );
    let r = app
        .post(
            "/v1/aliases",
            tok,
            json!({"domain_id": a_id, "local_part": "y", "destinations": []}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app.post("/v1/groups", tok, json!({"domain_id": a_id, "local_part": "z", "members": [ana], "send_policy": "nobody"})).await;
    assert_eq!(r.body["errors"][0]["field"], "send_policy");

    // Update, then delete frees the address; a domain in use cannot be deleted.
    let id = sales["id"].as_str().unwrap();
    let up = app
        .patch(
            &format!("/v1/aliases/{id}"),
            tok,
            json!({"destinations": ["Boss@Partner.Example"]}),
        )
        .await;
    assert_eq!(up.body["destinations"], json!(["boss@partner.example"]));
    assert_eq!(
        app.delete(&format!("/v1/domains/{a_id}"), tok).await.code(),
        "domain_in_use"
    );
    assert_eq!(
        app.delete(&format!("/v1/aliases/{id}"), tok).await.status,
        204
    );
    assert_eq!(app.get(&format!("/v1/aliases/{id}"), tok).await.status, 404);
    group(&app, tok, &a_id, "sales", &[&ana]).await;
    let log = app.get("/v1/audit-log?object_type=alias", tok).await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["alias.delete", "alias.update", "alias.create"]);
}

#[tokio::test]
async fn another_tenant_cannot_see_touch_or_resolve_aliases_and_groups() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (d_id, d) = fixture_verified_domain(&app, &a.owner_token).await;
    let (_, ana) = mailbox(&app, &a.owner_token, &d_id, "ana").await;
    let al = alias(&app, &a.owner_token, &d_id, "sales", &[&ana]).await;
    let gr = group(&app, &a.owner_token, &d_id, "team", &[&ana]).await;
    let (al_id, gr_id) = (al["id"].as_str().unwrap(), gr["id"].as_str().unwrap());
    let (_, b_key) = app.api_key(&b.owner_token, &["mailboxes:write"]).await;
    for cred in [&b.owner_token, &b_key] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/aliases/{al_id}"), None),
            (
                Method::PATCH,
                format!("/v1/aliases/{al_id}"),
                Some(json!({"destinations": ["x@y.example"]})),
            ),
            (Method::DELETE, format!("/v1/aliases/{al_id}"), None),
            (Method::GET, format!("/v1/groups/{gr_id}"), None),
            (
                Method::PATCH,
                format!("/v1/groups/{gr_id}"),
                Some(json!({"name": "x"})),
            ),
            (Method::DELETE, format!("/v1/groups/{gr_id}"), None),
        ] {
            assert_eq!(
                app.call(method.clone(), &path, Some(cred), body)
                    .await
                    .status,
                404,
                "{method} {path}"
            );
        }
        assert!(!app.get("/v1/aliases", cred).await.text.contains(al_id));
        assert!(!app.get("/v1/groups", cred).await.text.contains(gr_id));
        assert_eq!(
            resolve(&app, cred, &format!("sales@{d}")).await["rejected"]["code"],
            "not_our_domain"
        );
        let r = app
            .post(
                "/v1/aliases",
                cred,
                json!({"domain_id": d_id, "local_part": "steal", "destinations": ["x@y.example"]}),
            )
            .await;
        assert_eq!(r.status, 400, "{r:?}");
    }
    // A mailbox owner of the tenant manages no aliases.
    let owner = app.login(&ana, PASSWORD).await;
    assert_eq!(
        app.get("/v1/aliases", &owner).await.code(),
        "admin_required"
    );
    assert_eq!(
        app.get(&format!("/v1/routing/resolve?address=sales@{d}"), &owner)
            .await
            .code(),
        "admin_required"
    );
}

/// An alias, group, nested group or catch-all of tenant A whose destination is a mailbox of
/// tenant B does not reach into B: to A the address is external, like any domain elsewhere.
/// Over SMTP it is deferred (451, no outbound yet) and nothing lands in B's mailbox, even a
/// suspended or full one.
#[tokio::test]
async fn expansion_never_crosses_into_another_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (ad_id, ad) = fixture_verified_domain(&app, &a.owner_token).await;
    let (bd_id, _) = fixture_verified_domain(&app, &b.owner_token).await;
    let (_, ana) = mailbox(&app, &a.owner_token, &ad_id, "ana").await;
    let (bea_id, bea) = mailbox(&app, &b.owner_token, &bd_id, "bea").await;
    alias(&app, &a.owner_token, &ad_id, "fwd", &[&bea]).await;
    group(&app, &a.owner_token, &ad_id, "mixed", &[&ana, &bea]).await;
    let inner = format!("mixed@{ad}");
    group(&app, &a.owner_token, &ad_id, "outer", &[&inner]).await;
    alias(&app, &a.owner_token, &ad_id, "*", &[&bea]).await;
    for (address, local) in [
        (format!("fwd@{ad}"), vec![]),
        (format!("mixed@{ad}"), vec![ana.clone()]),
        (format!("outer@{ad}"), vec![ana.clone()]),
        (format!("nobody@{ad}"), vec![]),
    ] {
        let r = resolve(&app, &a.owner_token, &address).await;
        assert_eq!(delivered(&r), local, "{address}: {r}");
        assert_eq!(r["external"], json!([bea]), "{address}: {r}");
    }
    // Over SMTP: deferred, never delivered into B (also while B's mailbox is suspended).
    app.patch(
        &format!("/v1/mailboxes/{bea_id}"),
        &b.owner_token,
        json!({"status": "suspended"}),
    )
    .await;
    let smtp = crate::smtp::smtp_addr(&app);
    for rcpt in [
        format!("fwd@{ad}"),
        format!("mixed@{ad}"),
        format!("outer@{ad}"),
        format!("nobody@{ad}"),
    ] {
        let mut w = crate::smtp_wire::Wire::connect(smtp).await;
        assert_eq!(w.code("EHLO c.test").await, 250);
        assert_eq!(w.code("MAIL FROM:<x@outside.example>").await, 250);
        let r = w.cmd(&format!("RCPT TO:<{rcpt}>")).await;
        assert!(r.starts_with("451 4.3.0"), "{rcpt}: {r}");
    }
    app.patch(
        &format!("/v1/mailboxes/{bea_id}"),
        &b.owner_token,
        json!({"status": "active"}),
    )
    .await;
    assert!(
        crate::smtp::all_messages(&app, &b.owner_token, &bea_id)
            .await
            .is_empty()
    );
}
