//! `/shares`: creating, listing and revoking links, and the link quota.

use fluidcloud_core::model::Plan;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};
use uuid::Uuid;

async fn clean_file(client: &ApiClient) -> String {
    let space = client.default_space().await;
    let file = client
        .upload(space, "shared.txt", "text/plain", b"shared bytes")
        .await;
    assert_eq!(file["scan_status"], "clean");
    file["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn links_default_by_kind_and_show_their_token_once() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean_file(&client).await;
    let permanent = client
        .post(
            "/shares",
            &json!({ "file_id": file, "expires_in_days": null }),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(permanent["permission"], "view");
    assert_eq!(permanent["expires_at"], Value::Null);
    assert_eq!(permanent["has_password"], false);
    assert_eq!(permanent["file_id"], file);
    let url = permanent["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/s/", app.files_url)), "{url}");
    let expiring = client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 7 }))
        .await
        .expect(201)
        .body;
    assert_eq!(expiring["permission"], "download");
    assert!(expiring["expires_at"].as_str().unwrap().ends_with('Z'));
    let viewable = client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 1, "permission": "view", "password": "hunter22", "max_downloads": 3 }))
        .await
        .expect(201)
        .body;
    assert_eq!(viewable["permission"], "view");
    assert_eq!(viewable["has_password"], true);
    assert_eq!(viewable["max_downloads"], 3);

    let listed = client
        .get(&format!("/shares?file_id={file}"))
        .await
        .expect(200)
        .body;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for share in listed {
        assert!(
            share.get("url").is_none(),
            "tokens are never listed: {share}"
        );
        assert_eq!(share["download_count"], 0);
        assert_eq!(share["revoked"], false);
        assert!(share["updated_at"].is_string());
    }
    let token = url.rsplit('/').next().unwrap();
    assert!(!serde_json::to_string(listed).unwrap().contains(token));
}

#[tokio::test]
async fn bad_link_requests_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean_file(&client).await;
    for (body, status) in [
        (json!({ "file_id": file, "expires_in_days": 0 }), 422),
        (json!({ "file_id": file, "expires_in_days": 366 }), 422),
        // Numeric strings are integers (SPEC §3), fractions are not.
        (json!({ "file_id": file, "expires_in_days": "7.5" }), 422),
        (json!({ "file_id": file, "permission": "edit" }), 422),
        (json!({ "file_id": file, "password": "abc" }), 422),
        (json!({ "file_id": file, "password": "x".repeat(129) }), 422),
        (json!({ "file_id": file, "max_downloads": 0 }), 422),
        (json!({ "file_id": Uuid::new_v4() }), 404),
        (json!({ "file_id": "nope" }), 422),
        (json!({}), 422),
    ] {
        let reply = client.post("/shares", &body).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
    }
    // Not clean yet (or never): 409 with the status named. Trashed: 404.
    let space = client.default_space().await;
    let eicar = client
        .upload(
            space,
            "e.com",
            "application/octet-stream",
            fluidcloud_scan::EICAR,
        )
        .await;
    let reply = client
        .post("/shares", &json!({ "file_id": eicar["id"] }))
        .await
        .expect(409);
    assert_eq!(
        reply.detail(),
        "File is not shareable yet (scan_status='infected'); must be 'clean'."
    );
    client.delete(&format!("/files/{file}")).await.expect(200);
    client
        .post("/shares", &json!({ "file_id": file }))
        .await
        .expect(404);
    assert_eq!(client.get("/shares").await.expect(200).body, json!([]));
}

#[tokio::test]
async fn revoking_is_idempotent_and_lists_show_inactive_links_on_request() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean_file(&client).await;
    let link = client
        .post("/shares", &json!({ "file_id": file }))
        .await
        .expect(201)
        .id();
    let reply = client.delete(&format!("/shares/{link}")).await;
    assert_eq!(reply.status.as_u16(), 204);
    assert!(reply.text.is_empty());
    let revoked_at =
        client.get("/shares?include_inactive=true").await.body[0]["updated_at"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        client
            .delete(&format!("/shares/{link}"))
            .await
            .status
            .as_u16(),
        204
    );
    client
        .delete(&format!("/shares/{}", Uuid::new_v4()))
        .await
        .expect(404);
    assert_eq!(client.get("/shares").await.expect(200).body, json!([]));
    let all = client
        .get("/shares?include_inactive=true")
        .await
        .expect(200)
        .body;
    assert_eq!(all[0]["id"], link.to_string());
    assert_eq!(all[0]["revoked"], true);
    assert_eq!(
        all[0]["updated_at"], revoked_at,
        "the second revocation changed nothing"
    );
}

#[tokio::test]
async fn expired_and_exhausted_links_free_their_slot() {
    let app = TestApp::spawn().await;
    let client = app
        .tenant_with_plan(Plan {
            links_limit: 1,
            ..Plan::unlimited()
        })
        .await;
    let file = clean_file(&client).await;
    let capped = json!({ "file_id": file, "expires_in_days": 1, "max_downloads": 1 });
    let url = client.post("/shares", &capped).await.expect(201).body["url"]
        .as_str()
        .unwrap()
        .to_owned();
    client.post("/shares", &capped).await.expect(402);
    // Its one download exhausts it.
    let download = app.http.get(&url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 410);
    assert_eq!(client.get("/quota").await.body["links_used"], 0);
    client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 1 }))
        .await
        .expect(201);
    client.post("/shares", &capped).await.expect(402);
    // Expiry frees it too.
    app.db.expire_links().await;
    assert_eq!(client.get("/quota").await.body["links_used"], 0);
    client.post("/shares", &capped).await.expect(201);
}

#[tokio::test]
async fn expiring_links_count_against_the_link_limit_while_live() {
    let app = TestApp::spawn().await;
    let client = app
        .tenant_with_plan(Plan {
            links_limit: 2,
            ..Plan::unlimited()
        })
        .await;
    let file = clean_file(&client).await;
    // Permanent links are free.
    for _ in 0..3 {
        client
            .post("/shares", &json!({ "file_id": file }))
            .await
            .expect(201);
    }
    let first = client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 1 }))
        .await
        .expect(201)
        .id();
    client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 2 }))
        .await
        .expect(201);
    let reply = client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 3 }))
        .await
        .expect(402);
    assert_eq!(
        reply.detail(),
        &json!({ "error": "quota_exceeded", "limit": "share_links", "used": 2, "limit_value": 2, "requested": 1 })
    );
    let quota = client.get("/quota").await.expect(200).body;
    assert_eq!(
        (quota["links_used"].as_i64(), quota["links_limit"].as_i64()),
        (Some(2), Some(2))
    );
    // Revoking frees its slot.
    client.delete(&format!("/shares/{first}")).await.expect(204);
    let third = client
        .post("/shares", &json!({ "file_id": file, "expires_in_days": 3 }))
        .await
        .expect(201)
        .id();
    // Concurrent creations never pass the limit either: one slot free, one winner.
    client.delete(&format!("/shares/{third}")).await.expect(204);
    let expiring = json!({ "file_id": file, "expires_in_days": 1 });
    let attempts: Vec<_> = (0..10).map(|_| client.post("/shares", &expiring)).collect();
    let replies = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        9,
        "{statuses:?}"
    );
    // Purging the file frees its links too.
    let purged = client
        .delete(&format!("/gdpr/files/{file}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        purged["shares_revoked"], 5,
        "links revoked before do not count again"
    );
    assert_eq!(client.get("/quota").await.body["links_used"], 0);
}
