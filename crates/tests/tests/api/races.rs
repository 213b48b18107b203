//! Racing writes on one tenant's files, as many clients make them: links, trash,
//! restore, permanent deletion and emptying the Trash all at once. Nothing answers a
//! 5xx (on PostgreSQL two of these once deadlocked, and a restore racing a purge
//! failed on the row it had just seen), the counters stay equal to a recount, and no
//! file that survives has its bytes queued for erasure.

use fluidcloud_db::jobs::JobKind;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::client::{ApiClient, Reply};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// One request as a future owning what it needs, so many can run at once.
fn request(
    client: &ApiClient,
    method: Method,
    path: String,
    body: Option<Value>,
) -> impl Future<Output = Reply> + use<> {
    let client = client.clone();
    async move { client.call(method, &path, body.as_ref()).await }
}

async fn clean_files(client: &ApiClient, count: usize) -> Vec<String> {
    let space = client.default_space().await;
    let mut ids = Vec::new();
    for i in 0..count {
        let file = client
            .upload(
                space,
                &format!("r{i}.txt"),
                "text/plain",
                format!("race {i}").as_bytes(),
            )
            .await;
        let file = client.wait_for_scan(file["id"].as_str().unwrap()).await;
        assert_eq!(file["scan_status"], "clean");
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn assert_books_balance(app: &TestApp, client: &ApiClient) {
    let counters = app.store.quota(client.tenant_id).await.unwrap();
    let recounted = app.store.recount_usage(client.tenant_id).await.unwrap();
    assert_eq!(
        (
            counters.bytes_used,
            counters.bytes_reserved,
            counters.by_app
        ),
        (
            recounted.bytes_used,
            recounted.bytes_reserved,
            recounted.by_app
        )
    );
}

#[tokio::test]
async fn links_trash_restore_and_purges_racing_on_the_same_files_never_fail() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.requests_per_minute = -1;
        s.rate_limits.shares_per_minute = -1;
    })
    .await;
    let client = app.tenant().await;
    let ids = clean_files(&client, 48).await;
    let mut calls = Vec::new();
    for id in &ids {
        for _ in 0..3 {
            let share = json!({ "file_id": id });
            calls.push(request(
                &client,
                Method::POST,
                "/shares".into(),
                Some(share),
            ));
            calls.push(request(
                &client,
                Method::DELETE,
                format!("/files/{id}"),
                None,
            ));
            let restore = format!("/files/{id}/restore");
            calls.push(request(&client, Method::POST, restore, Some(json!({}))));
        }
        calls.push(request(
            &client,
            Method::DELETE,
            format!("/gdpr/files/{id}"),
            None,
        ));
    }
    let calls = calls.into_iter().map(tokio::spawn);
    for reply in join_all(calls).await {
        let reply = reply.unwrap();
        assert!(
            reply.status.as_u16() < 500,
            "{} {}",
            reply.status,
            reply.text
        );
    }
    assert_books_balance(&app, &client).await;
}

#[tokio::test]
async fn emptying_the_trash_while_files_are_restored_erases_only_what_it_deleted() {
    // No worker: the deletions it was given stay queued for inspection.
    let app = TestApp::spawn_without_worker(|_| {}).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let file = client
            .upload(
                space,
                &format!("t{i}.txt"),
                "text/plain",
                format!("trash {i}").as_bytes(),
            )
            .await;
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        client.delete(&format!("/files/{id}")).await.expect(200);
    }
    let restores = ids.iter().map(|id| {
        let path = format!("/files/{id}/restore");
        request(&client, Method::POST, path, Some(json!({})))
    });
    let empty = request(
        &client,
        Method::DELETE,
        format!("/gdpr/trash?space_id={space}"),
        None,
    );
    let (emptied, restored) = tokio::join!(empty, join_all(restores));
    assert!(emptied.status.as_u16() < 500, "{}", emptied.text);
    for reply in restored {
        assert!(
            reply.status.as_u16() < 500,
            "{} {}",
            reply.status,
            reply.text
        );
    }

    let queued: Vec<String> = app
        .store
        .pending_jobs()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|job| match job {
            JobKind::DeleteObjects { object_keys } => object_keys,
            _ => Vec::new(),
        })
        .collect();
    for id in &ids {
        let id: Uuid = id.parse().unwrap();
        if let Ok(file) = app.store.file(client.tenant_id, id).await {
            assert!(
                !queued.contains(&file.object_key),
                "{id} survived the emptying but its bytes are queued for erasure"
            );
        }
    }
    assert_books_balance(&app, &client).await;
}
