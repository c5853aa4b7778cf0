//! Address books: personal and shared, search, vCard and CSV import and export.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use reqwest::Method;
use serde_json::json;

async fn upload(app: &TestApp, token: &str, query: &str, ctype: &str, body: Vec<u8>) -> Resp {
    let res = app
        .http
        .post(format!("{}/v1/contacts/import{query}", app.base))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or_default(),
        text,
    }
}

#[tokio::test]
async fn a_mailbox_owner_keeps_a_personal_book_and_searches_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (mid, address) = mailbox(&app, &t.owner_token, &d, "ana").await;
    let token = app.login(&address, PASSWORD).await;
    let r = app
        .post(
            "/v1/contacts",
            &token,
            json!({"full_name": "Bea Costa", "given_name": "Bea", "family_name": "Costa",
                   "emails": [{"value": "bea@client.example", "kind": "Work"}], "phones": [{"value": "+351 21 000 0000", "kind": "mobile"}],
                   "organization": "Client Lda", "title": "CFO", "notes": "met at\nthe fair", "labels": ["clients", "vip"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["book"].as_str(), r.body["mailbox_id"].as_str()),
        (Some("personal"), Some(mid.as_str()))
    );
    assert_eq!(r.body["emails"][0]["kind"], "work", "kinds are lower-cased");
    let id = r.body["id"].as_str().unwrap().to_string();
    app.post(
        "/v1/contacts",
        &token,
        json!({"full_name": "Carl Dias", "emails": [{"value": "carl@other.example"}]}),
    )
    .await;
    for (q, hits) in [
        ("costa", 1),
        ("CLIENT.EXAMPLE", 1),
        ("client lda", 1),
        ("dias", 1),
        ("example", 2),
        ("nobody", 0),
    ] {
        let r = app
            .get(&format!("/v1/contacts?q={}", q.replace(' ', "%20")), &token)
            .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), hits, "{q}");
    }
    let r = app
        .patch(
            &format!("/v1/contacts/{id}"),
            &token,
            json!({"title": "CEO", "labels": []}),
        )
        .await;
    assert_eq!(
        (r.body["title"].as_str(), r.body["full_name"].as_str()),
        (Some("CEO"), Some("Bea Costa"))
    );
    assert_eq!(r.body["labels"], json!([]));
    for bad in [
        json!({"emails": [{"value": "nope"}]}),
        json!({"full_name": ""}),
        json!({"phones": [{"value": "call me"}]}),
    ] {
        let r = app.post("/v1/contacts", &token, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }
    assert_eq!(
        app.delete(&format!("/v1/contacts/{id}"), &token)
            .await
            .status,
        204
    );
    assert_eq!(
        app.get(&format!("/v1/contacts/{id}"), &token).await.status,
        404
    );
    // The admin reaches the same book by naming the mailbox.
    let r = app
        .get(&format!("/v1/contacts?mailbox_id={mid}"), &t.owner_token)
        .await;
    assert_eq!(r.body["items"][0]["full_name"], "Carl Dias");
}

#[tokio::test]
async fn the_shared_directory_lists_every_mailbox_and_what_admins_add() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (ana_id, ana) = mailbox(&app, &t.owner_token, &d, "ana").await;
    let (bo_id, bo) = mailbox(&app, &t.owner_token, &d, "bo").await;
    let dir = app.get("/v1/contacts", &t.owner_token).await;
    let emails: Vec<&str> = dir.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["emails"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [ana.as_str(), bo.as_str()]);
    assert!(
        dir.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["source"] == "mailbox" && c["book"] == "shared")
    );

    app.patch(
        &format!("/v1/mailboxes/{ana_id}"),
        &t.owner_token,
        json!({"display_name": "Ana Silva"}),
    )
    .await;
    app.delete(&format!("/v1/mailboxes/{bo_id}"), &t.owner_token)
        .await;
    let r = app
        .post(
            "/v1/contacts",
            &t.owner_token,
            json!({"full_name": "Reception", "phones": [{"value": "+1 555 0100"}]}),
        )
        .await;
    assert_eq!(r.body["source"], "manual");
    let dir = app.get("/v1/contacts", &t.owner_token).await;
    let names: Vec<&str> = dir.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ana Silva", "Reception"]);
    let managed = dir.body["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.patch(
            &format!("/v1/contacts/{managed}"),
            &t.owner_token,
            json!({"title": "x"})
        )
        .await
        .code(),
        "managed_contact"
    );
    assert_eq!(
        app.delete(&format!("/v1/contacts/{managed}"), &t.owner_token)
            .await
            .code(),
        "managed_contact"
    );

    // Mailbox owners and members read it; only admins write it.
    let owner = app.login(&ana, PASSWORD).await;
    assert_eq!(
        app.get("/v1/contacts?book=shared", &owner).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = app
        .post(
            "/v1/contacts?book=shared",
            &owner,
            json!({"full_name": "Sneaky"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "admin_required"));
    let (_, _, member) = app.user(&t, "member").await;
    assert_eq!(app.get("/v1/contacts", &member).await.status, 200);
    assert_eq!(
        app.post("/v1/contacts", &member, json!({"full_name": "x"}))
            .await
            .code(),
        "insufficient_scope"
    );
}

#[tokio::test]
async fn import_reports_bad_rows_and_export_round_trips() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (_, address) = mailbox(&app, &t.owner_token, &d, "ana").await;
    let token = app.login(&address, PASSWORD).await;
    let vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bea Costa\r\nN:Costa;Bea;;;\r\nEMAIL;TYPE=WORK:bea@client.example\r\nORG:Client Lda\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nEMAIL:not-an-address\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Carl Dias\r\nTEL;TYPE=cell:+44 20 7946 0000\r\nNOTE:line one\\nline two\r\nEND:VCARD\r\n";
    let r = upload(&app, &token, "", "text/vcard", vcf.as_bytes().to_vec()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["imported"], 2);
    assert_eq!(r.body["errors"][0]["row"], 2);
    assert_eq!(
        app.get("/v1/contacts?q=broken", &token).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a bad row is never half-imported"
    );

    let csv = "Name,E-mail Address,Company,Tags\r\nDan Eco,dan@eco.example,Eco,\"green;clients\"\r\n,,,\r\nEve,\"bad address\",,\r\n";
    let r = upload(
        &app,
        &token,
        "",
        "text/csv; charset=utf-8",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        (
            r.body["imported"].as_u64(),
            r.body["errors"].as_array().unwrap().len()
        ),
        (Some(1), 1),
        "{r:?}"
    );

    for (ctype, body, status, code) in [
        (
            "application/json",
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        ("text/csv", vec![0xff, 0xfe, 0x00], 400, "invalid_import"),
        (
            "text/csv",
            b"just,some,columns\r\n1,2,3\r\n".to_vec(),
            400,
            "invalid_import",
        ),
    ] {
        let r = upload(&app, &token, "", ctype, body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{ctype}: {r:?}"
        );
    }

    // Export both ways, import each into a fresh book: the same cards come back.
    for (format, ctype) in [("vcard", "text/vcard"), ("csv", "text/csv")] {
        let res = app
            .http
            .get(format!("{}/v1/contacts/export?format={format}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype)
        );
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        let body = res.bytes().await.unwrap().to_vec();
        let (other, _) = mailbox(&app, &t.owner_token, &d, &format!("copy-{format}")).await;
        let r = upload(
            &app,
            &t.owner_token,
            &format!("?mailbox_id={other}"),
            ctype,
            body,
        )
        .await;
        assert_eq!(
            (
                r.body["imported"].as_u64(),
                r.body["errors"].as_array().unwrap().len()
            ),
            (Some(3), 0),
            "{format}: {r:?}"
        );
        let copy = app
            .get(
                &format!("/v1/contacts?mailbox_id={other}&q=carl"),
                &t.owner_token,
            )
            .await;
        assert_eq!(
            copy.body["items"][0]["notes"], "line one\nline two",
            "{format}"
        );
        assert_eq!(
            copy.body["items"][0]["phones"][0]["value"], "+44 20 7946 0000",
            "{format}"
        );
    }
    assert_eq!(
        app.get("/v1/contacts/export?format=pdf", &token)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn ten_thousand_contacts_export_in_a_stream() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (mid, _) = mailbox(&app, &t.owner_token, &d, "ana").await;
    let mut csv = String::from("full_name,emails\r\n");
    for i in 0..10_000 {
        csv.push_str(&format!("Person {i},p{i}@list.example\r\n"));
    }
    let r = upload(
        &app,
        &t.owner_token,
        &format!("?mailbox_id={mid}"),
        "text/csv",
        csv.into_bytes(),
    )
    .await;
    assert_eq!(r.body["imported"], 10_000, "{r:?}");
    let mut res = app
        .http
        .get(format!("{}/v1/contacts/export?mailbox_id={mid}", app.base))
        .bearer_auth(&t.owner_token)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("content-length").is_none(),
        "not streamed: {:?}",
        res.headers()
    );
    let (mut chunks, mut body) = (0, Vec::new());
    while let Some(c) = res.chunk().await.unwrap() {
        chunks += 1;
        body.extend_from_slice(&c);
    }
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.matches("BEGIN:VCARD").count(), 10_000);
    assert!(text.contains("FN:Person 9999\r\n"));
    assert!(chunks > 1, "one chunk only");
}

#[tokio::test]
async fn books_of_other_mailboxes_and_tenants_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &a.owner_token).await;
    let (_, ana) = mailbox(&app, &a.owner_token, &d, "ana").await;
    let (bo_id, _) = mailbox(&app, &a.owner_token, &d, "bo").await;
    let c = app
        .post(
            &format!("/v1/contacts?mailbox_id={bo_id}"),
            &a.owner_token,
            json!({"full_name": "Bo's friend"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_string();
    let shared = app
        .post(
            "/v1/contacts",
            &a.owner_token,
            json!({"full_name": "A's reception"}),
        )
        .await;
    let sid = shared.body["id"].as_str().unwrap().to_string();
    let ana_token = app.login(&ana, PASSWORD).await;
    let (_, b_key) = app.api_key(&b.owner_token, &["contacts:write"]).await;
    for cred in [&ana_token, &b.owner_token, &b_key] {
        for (method, path, body) in [
            (
                Method::GET,
                format!("/v1/contacts?mailbox_id={bo_id}"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/contacts?mailbox_id={bo_id}"),
                Some(json!({"full_name": "x"})),
            ),
            (
                Method::GET,
                format!("/v1/contacts/export?mailbox_id={bo_id}"),
                None,
            ),
            (Method::GET, format!("/v1/contacts/{cid}"), None),
            (
                Method::PATCH,
                format!("/v1/contacts/{cid}"),
                Some(json!({"title": "x"})),
            ),
            (Method::DELETE, format!("/v1/contacts/{cid}"), None),
        ] {
            assert_eq!(
                app.call(method.clone(), &path, Some(cred), body)
                    .await
                    .status,
                404,
                "{method} {path}"
            );
        }
        let r = upload(
            &app,
            cred,
            &format!("?mailbox_id={bo_id}"),
            "text/vcard",
            b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n".to_vec(),
        )
        .await;
        assert_eq!(r.status, 404);
    }
    for cred in [&b.owner_token, &b_key] {
        assert_eq!(
            app.get(&format!("/v1/contacts/{sid}"), cred).await.status,
            404
        );
        assert!(!app.get("/v1/contacts", cred).await.text.contains(&sid));
    }
    assert_eq!(
        app.get(&format!("/v1/contacts/{sid}"), &ana_token)
            .await
            .status,
        200,
        "a mailbox owner reads the shared directory"
    );
}
