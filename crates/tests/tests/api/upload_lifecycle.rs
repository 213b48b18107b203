//! How uploads end when they are not completed, and what their URLs can still do: a
//! cancelled upload gives its reservation back at once, and bytes put through an old
//! URL after the file was erased are erased again once the URL lapses.

use std::time::{Duration, Instant};

use fluidcloud_core::model::Plan;
use fluidcloud_db::jobs::JobKind;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::Value;

async fn quota(client: &ApiClient) -> Value {
    client.get("/quota").await.expect(200).body
}

#[tokio::test]
async fn a_cancelled_upload_releases_its_reservation_at_once_and_erases_what_was_sent() {
    // No worker: the release and the erasure must not wait for one.
    let app = TestApp::spawn_without_worker(|_| {}).await;
    let client = app
        .tenant_with_plan(Plan {
            bytes_limit: 4096,
            ..Plan::unlimited()
        })
        .await;
    let space = client.default_space().await;
    let ticket = client
        .initiate(space, "big.bin", "application/octet-stream", 4096)
        .await
        .expect(200)
        .body;
    assert!(client.put_single(&ticket, vec![1; 4096]).await.is_success());
    // The pool is full while the upload is open.
    client
        .initiate(space, "small.bin", "text/plain", 2000)
        .await
        .expect(402);
    let file_id = ticket["file_id"].as_str().unwrap();
    let reply = client
        .delete(&format!("/uploads/{file_id}"))
        .await
        .expect(204);
    assert!(reply.text.is_empty());
    assert_eq!(quota(&client).await["bytes_reserved"], 0);
    let key = ticket["key"].as_str().unwrap();
    assert_eq!(app.services.objects.head(key).await.unwrap(), None);
    client
        .initiate(space, "small.bin", "text/plain", 2000)
        .await
        .expect(200);
    // Again is fine; completing it now is not.
    client
        .delete(&format!("/uploads/{file_id}"))
        .await
        .expect(204);
    let body = ApiClient::completion(
        &ticket,
        space,
        "big.bin",
        "application/octet-stream",
        &[1; 4096],
    );
    client.post("/uploads/complete", &body).await.expect(409);
}

#[tokio::test]
async fn only_open_uploads_of_the_tenant_can_be_cancelled() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let other = app.tenant().await;
    let space = client.default_space().await;
    let done = client
        .upload(space, "done.txt", "text/plain", b"done")
        .await;
    let done = done["id"].as_str().unwrap();
    let reply = client.delete(&format!("/uploads/{done}")).await.expect(409);
    assert!(reply.detail().as_str().unwrap().contains("completed"));
    assert_eq!(
        client.get(&format!("/files/{done}")).await.expect(200).body["scan_status"],
        "clean"
    );

    let open = client
        .initiate(space, "open.txt", "text/plain", 5)
        .await
        .expect(200)
        .body;
    let open = open["file_id"].as_str().unwrap();
    other.delete(&format!("/uploads/{open}")).await.expect(404);
    other
        .delete(&format!("/uploads/{}", uuid::Uuid::new_v4()))
        .await
        .expect(404);
    other.delete("/uploads/not-a-uuid").await.expect(422);
    // The foreign attempt changed nothing.
    assert_eq!(quota(&client).await["bytes_reserved"], 5);
}

#[tokio::test]
async fn bytes_put_through_an_old_url_after_a_purge_are_erased_once_it_lapses() {
    let app = TestApp::spawn_with(|s| s.uploads.url_ttl_secs = 3).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let ticket = client
        .initiate(space, "gone.txt", "text/plain", 5)
        .await
        .expect(200)
        .body;
    assert!(
        client
            .put_single(&ticket, b"bytes".to_vec())
            .await
            .is_success()
    );
    let body = ApiClient::completion(&ticket, space, "gone.txt", "text/plain", b"bytes");
    let file = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .id();
    client
        .delete(&format!("/gdpr/files/{file}"))
        .await
        .expect(200);
    let key = ticket["key"].as_str().unwrap().to_owned();
    let objects = &app.services.objects;
    assert_eq!(objects.head(&key).await.unwrap(), None);

    // The URL is still valid: the same bytes go back, recorded nowhere.
    assert!(
        client
            .put_single(&ticket, b"bytes".to_vec())
            .await
            .is_success()
    );
    assert!(objects.head(&key).await.unwrap().is_some());
    assert_eq!(quota(&client).await["bytes_used"], 0);

    // A second erasure waits for the URL to lapse (plus a minute for clock skew);
    // once the URL has lapsed, make it due now rather than wait that minute.
    let erase = JobKind::DeleteObjects {
        object_keys: vec![key.clone()],
    };
    assert!(app.store.job_state(&erase).await.unwrap().is_some());
    let lapses: chrono::DateTime<chrono::Utc> =
        ticket["expires_at"].as_str().unwrap().parse().unwrap();
    let wait = (lapses - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    assert!(
        !client
            .put_single(&ticket, b"bytes".to_vec())
            .await
            .is_success(),
        "the URL lapsed"
    );
    app.store.expedite(&erase).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while objects.head(&key).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the late erasure never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(quota(&client).await["bytes_used"], 0);
}

#[tokio::test]
async fn initiate_says_when_the_url_and_the_reservation_lapse() {
    let app = TestApp::spawn_with(|s| {
        s.uploads.url_ttl_secs = 600;
        s.uploads.part_url_ttl_secs = 7200;
        s.uploads.multipart_threshold_bytes = 1024;
    })
    .await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let lapse = |ticket: &Value| {
        let at: chrono::DateTime<chrono::Utc> =
            ticket["expires_at"].as_str().unwrap().parse().unwrap();
        (at - chrono::Utc::now()).num_seconds()
    };
    let single = client
        .initiate(space, "s", "text/plain", 10)
        .await
        .expect(200)
        .body;
    assert_eq!(single["mode"], "single");
    assert!((590..=600).contains(&lapse(&single)), "{single}");
    let url = single["upload_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=600"), "{url}");
    let multi = client
        .initiate(space, "m", "text/plain", 2048)
        .await
        .expect(200)
        .body;
    assert_eq!(multi["mode"], "multipart");
    assert!((7190..=7200).contains(&lapse(&multi)), "{multi}");
    let part = multi["part_urls"][0]["url"].as_str().unwrap();
    assert!(part.contains("X-Amz-Expires=7200"), "{part}");
    assert!(
        part.to_ascii_lowercase().contains("content-length"),
        "the part URL signs its length: {part}"
    );
}

#[tokio::test]
async fn parts_larger_than_declared_are_refused_so_quota_holds() {
    const MIB: usize = 1024 * 1024;
    let app = TestApp::spawn_with(|s| {
        s.uploads.multipart_threshold_bytes = 1024;
        s.uploads.min_part_size_bytes = 5 * MIB as u64;
    })
    .await;
    let client = app
        .tenant_with_plan(Plan {
            bytes_limit: 10 * MIB as i64,
            ..Plan::unlimited()
        })
        .await;
    let space = client.default_space().await;
    let ticket = client
        .initiate(space, "v.bin", "application/octet-stream", 10 * MIB as u64)
        .await
        .expect(200)
        .body;
    assert_eq!(ticket["mode"], "multipart");
    // Three times the plan's whole pool through one part URL: the store refuses it.
    let first = ticket["part_urls"][0]["url"].as_str().unwrap();
    let oversized = app
        .http
        .put(first)
        .body(vec![0u8; 30 * MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 403);
    let q = quota(&client).await;
    assert_eq!(
        (q["bytes_used"].as_i64(), q["bytes_reserved"].as_i64()),
        (Some(0), Some(10 * MIB as i64))
    );
    // Exactly the declared parts go through and complete within the pool.
    let parts = client.put_parts(&ticket, &vec![1u8; 10 * MIB]).await;
    let mut body = ApiClient::completion(
        &ticket,
        space,
        "v.bin",
        "application/octet-stream",
        &vec![1u8; 10 * MIB],
    );
    body["parts"] = parts;
    client.post("/uploads/complete", &body).await.expect(201);
    let q = quota(&client).await;
    assert_eq!(
        (q["bytes_used"].as_i64(), q["bytes_reserved"].as_i64()),
        (Some(10 * MIB as i64), Some(0))
    );
}
