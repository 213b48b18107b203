//! `/files`, `/gdpr` and space purges: listing, lookup, moves, Trash, permanent
//! deletion, and the quota arithmetic of each step.

use std::time::Duration;

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};
use uuid::Uuid;

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id(file: &Value) -> String {
    file["id"].as_str().unwrap().to_owned()
}

async fn bytes_used(client: &ApiClient) -> i64 {
    client.get("/quota").await.expect(200).body["bytes_used"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn files_list_by_folder_recursively_by_app_and_in_the_trash() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let folder = client
        .create_folder(space, None, "docs")
        .await
        .expect(201)
        .id();
    let at_root = client
        .upload(space, "root.txt", "text/plain", b"root")
        .await;
    let in_folder = client
        .upload_with(space, "inner.txt", "text/plain", b"inner", |b| {
            b["folder_id"] = json!(folder);
        })
        .await;
    // folder_id must match the ticket: the upload was initiated at the root.
    in_folder.file.expect(400);
    let ticket = client
        .post("/uploads/initiate", &json!({ "original_name": "inner.txt", "content_type": "text/plain", "size": 5, "space_id": space, "folder_id": folder }))
        .await
        .expect(200)
        .body;
    assert!(
        client
            .put_single(&ticket, b"inner".to_vec())
            .await
            .is_success()
    );
    let mut body = ApiClient::completion(&ticket, space, "inner.txt", "text/plain", b"inner");
    body["folder_id"] = json!(folder);
    let inner = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .body;
    assert_eq!(inner["folder_id"], folder.to_string());
    let talk = client
        .upload_with(space, "talk.txt", "text/plain", b"talk", |b| {
            b["app"] = json!("fluidtalk")
        })
        .await;
    talk.file.expect(400); // app must match the ticket too
    let ticket = client
        .post("/uploads/initiate", &json!({ "original_name": "talk.txt", "content_type": "text/plain", "size": 4, "space_id": space, "app": "fluidtalk" }))
        .await
        .expect(200)
        .body;
    assert!(
        client
            .put_single(&ticket, b"talk".to_vec())
            .await
            .is_success()
    );
    let mut body = ApiClient::completion(&ticket, space, "talk.txt", "text/plain", b"talk");
    body["app"] = json!("fluidtalk");
    let talk = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .body;
    assert_eq!(talk["source_app"], "fluidtalk");

    let root = client
        .get(&format!("/files?space_id={space}"))
        .await
        .expect(200);
    assert_eq!(ids(&root.body), vec![id(&at_root), id(&talk)]);
    let docs = client
        .get(&format!("/files?space_id={space}&folder_id={folder}"))
        .await
        .expect(200);
    assert_eq!(ids(&docs.body), vec![id(&inner)]);
    let all = client
        .get(&format!("/files?space_id={space}&recursive=true"))
        .await
        .expect(200);
    assert_eq!(ids(&all.body), vec![id(&at_root), id(&inner), id(&talk)]);
    let by_app = client
        .get(&format!(
            "/files?space_id={space}&recursive=1&app=fluidtalk"
        ))
        .await
        .expect(200);
    assert_eq!(ids(&by_app.body), vec![id(&talk)]);
    let paged = client
        .get(&format!("/files?space_id={space}&recursive=true&limit=2"))
        .await
        .expect(200);
    assert_eq!(ids(&paged.body).len(), 2);
    assert!(paged.header("x-next-cursor").is_some());

    client
        .delete(&format!("/files/{}", id(&inner)))
        .await
        .expect(200);
    let trash = client
        .get(&format!("/files?space_id={space}&trash=true"))
        .await
        .expect(200);
    assert_eq!(ids(&trash.body), vec![id(&inner)]);
    let docs = client
        .get(&format!("/files?space_id={space}&folder_id={folder}"))
        .await
        .expect(200);
    assert_eq!(docs.body, json!([]));
}

#[tokio::test]
async fn files_resolve_by_client_key_within_an_app() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let first = client
        .upload_with(space, "v1.txt", "text/plain", b"v1", |b| {
            b["client_key"] = json!("avatar/42")
        })
        .await;
    let first = first.file.expect(201).body;
    let second = client
        .upload_with(space, "v2.txt", "text/plain", b"v2", |b| {
            b["client_key"] = json!("avatar/42")
        })
        .await;
    let second = second.file.expect(201).body;
    let found = client
        .get("/files/resolve?client_key=avatar/42")
        .await
        .expect(200);
    assert_eq!(found.body["id"], second["id"], "the newest wins");
    client
        .get("/files/resolve?client_key=avatar/42&app=fluidtalk")
        .await
        .expect(404);
    // A key no upload could carry (a control character, padding) finds nothing.
    for impossible in ["avatar%0A42", "%20avatar", "a%E2%80%AEb"] {
        client
            .get(&format!("/files/resolve?client_key={impossible}"))
            .await
            .expect(404);
    }
    client
        .delete(&format!("/files/{}", id(&second)))
        .await
        .expect(200);
    let found = client
        .get("/files/resolve?client_key=avatar%2F42")
        .await
        .expect(200);
    assert_eq!(
        found.body["id"], first["id"],
        "trashed files do not resolve"
    );
    client
        .get("/files/resolve?client_key=missing")
        .await
        .expect(404);
    client.get("/files/resolve").await.expect(422);
}

#[tokio::test]
async fn files_are_renamed_moved_trashed_and_restored() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let folder = client
        .create_folder(space, None, "f")
        .await
        .expect(201)
        .id();
    let file = client.upload(space, "a.txt", "text/plain", b"aaa").await;
    let path = format!("/files/{}", id(&file));

    let renamed = client
        .patch(&path, &json!({ "original_name": "b.txt" }))
        .await
        .expect(200)
        .body;
    assert_eq!(
        (renamed["original_name"].as_str(), renamed["name"].as_str()),
        (Some("b.txt"), Some("b.txt"))
    );
    let moved = client
        .patch(&path, &json!({ "folder_id": folder }))
        .await
        .expect(200)
        .body;
    assert_eq!(moved["folder_id"], folder.to_string());
    assert_eq!(moved["original_name"], "b.txt");
    let other_space = client.create_space("other").await.expect(201).id();
    let elsewhere = client
        .create_folder(other_space, None, "x")
        .await
        .expect(201)
        .id();
    client
        .patch(&path, &json!({ "folder_id": elsewhere }))
        .await
        .expect(400);
    client
        .patch(&path, &json!({ "original_name": "a\\b" }))
        .await
        .expect(400);
    client
        .patch(&path, &json!({ "folder_id": "x" }))
        .await
        .expect(422);

    // Trashing the folder trashes the file; restoring the folder brings it back.
    client.trash_folder(folder).await.expect(200);
    let trashed = client.get(&path).await.expect(200).body;
    assert!(trashed["deleted_at"].is_string());
    client
        .patch(&path, &json!({ "original_name": "c.txt" }))
        .await
        .expect(409);
    client.restore_folder(folder).await.expect(200);
    assert_eq!(client.get(&path).await.body["deleted_at"], Value::Null);

    // A file deleted on its own stays trashed when its folder comes back; restored
    // while its folder is trashed, it lands at the root.
    client.delete(&path).await.expect(200);
    client.trash_folder(folder).await.expect(200);
    client.restore_folder(folder).await.expect(200);
    assert!(client.get(&path).await.body["deleted_at"].is_string());
    client.trash_folder(folder).await.expect(200);
    let restored = client
        .post(&format!("{path}/restore"), &Value::Null)
        .await
        .expect(200)
        .body;
    assert_eq!(restored["deleted_at"], Value::Null);
    assert_eq!(restored["folder_id"], Value::Null);
    client
        .post(&format!("/files/{}/restore", Uuid::new_v4()), &Value::Null)
        .await
        .expect(404);
}

#[tokio::test]
async fn quota_follows_trash_restore_and_purge() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    assert_eq!(bytes_used(&client).await, 0);
    let a = client
        .upload(space, "a.bin", "application/octet-stream", &[1; 300])
        .await;
    let b = client
        .upload(space, "b.bin", "application/octet-stream", &[2; 200])
        .await;
    assert_eq!(bytes_used(&client).await, 500);
    client
        .delete(&format!("/files/{}", id(&a)))
        .await
        .expect(200);
    assert_eq!(bytes_used(&client).await, 500, "trashed files still count");
    let folder = client
        .create_folder(space, None, "stats")
        .await
        .expect(201)
        .id();
    client
        .patch(
            &format!("/files/{}", id(&b)),
            &json!({ "folder_id": folder }),
        )
        .await
        .expect(200);
    let stats = client.folder_stats(folder).await.expect(200).body;
    assert_eq!(
        (stats["file_count"].as_i64(), stats["total_bytes"].as_i64()),
        (Some(1), Some(200))
    );
    client
        .post(&format!("/files/{}/restore", id(&a)), &Value::Null)
        .await
        .expect(200);
    assert_eq!(bytes_used(&client).await, 500);

    let purged = client
        .delete(&format!("/gdpr/files/{}", id(&a)))
        .await
        .expect(200)
        .body;
    assert_eq!(
        purged,
        json!({ "id": id(&a), "bytes_freed": 300, "shares_revoked": 0 })
    );
    assert_eq!(bytes_used(&client).await, 200);
    client.get(&format!("/files/{}", id(&a))).await.expect(404);
    client
        .delete(&format!("/gdpr/files/{}", id(&a)))
        .await
        .expect(404);

    client
        .delete(&format!("/files/{}", id(&b)))
        .await
        .expect(200);
    let folder = client
        .create_folder(space, None, "gone")
        .await
        .expect(201)
        .id();
    client.trash_folder(folder).await.expect(200);
    let emptied = client
        .delete(&format!("/gdpr/trash?space_id={space}"))
        .await
        .expect(202)
        .body;
    assert_eq!(emptied, json!({ "files": 1, "folders": 1 }));
    assert_eq!(bytes_used(&client).await, 0);
    assert_eq!(
        client
            .get(&format!("/files?space_id={space}&trash=true"))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        client
            .list_folders(&format!("space_id={space}&trash=true"))
            .await
            .body,
        json!([])
    );
    let quota = client.get("/quota").await.expect(200).body;
    assert_eq!(quota["by_app"], json!([]));
}

#[tokio::test]
async fn purged_bytes_leave_the_store() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let uploaded = client
        .upload_with(space, "x.txt", "text/plain", b"erase me", |_| {})
        .await;
    let file = uploaded.file.expect(201).body;
    let key = uploaded.ticket["key"].as_str().unwrap().to_owned();
    assert!(app.services.objects.head(&key).await.unwrap().is_some());
    client
        .delete(&format!("/gdpr/files/{}", id(&file)))
        .await
        .expect(200);
    assert_eq!(app.services.objects.head(&key).await.unwrap(), None);
}

#[tokio::test]
async fn a_purged_space_vanishes_at_once_and_its_contents_follow() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.create_space("doomed").await.expect(201).id();
    let folder = client
        .create_folder(space, None, "f")
        .await
        .expect(201)
        .id();
    let uploaded = client
        .upload_with(space, "x.txt", "text/plain", b"bytes", |_| {})
        .await;
    let file = uploaded.file.expect(201).body;
    let key = uploaded.ticket["key"].as_str().unwrap().to_owned();
    client
        .initiate(space, "open.txt", "text/plain", 50)
        .await
        .expect(200);
    client.delete(&format!("/spaces/{space}")).await.expect(409);

    let reply = client
        .delete(&format!("/spaces/{space}?purge=true"))
        .await
        .expect(202);
    assert_eq!(reply.body, json!({ "id": space, "status": "deleting" }));
    let spaces = client.list_spaces().await.expect(200).body;
    assert!(!ids(&spaces).contains(&space.to_string()));
    client
        .get(&format!("/files/{}", id(&file)))
        .await
        .expect(404);
    client.get(&format!("/folders/{folder}")).await.expect(404);
    client
        .delete(&format!("/spaces/{space}?purge=true"))
        .await
        .expect(404);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let quota = client.get("/quota").await.expect(200).body;
        let gone = app.services.objects.head(&key).await.unwrap().is_none();
        if quota["bytes_used"] == 0 && quota["bytes_reserved"] == 0 && gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the purge never finished: {quota}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn download_and_preview_urls_need_a_clean_live_file() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client.upload(space, "ok.txt", "text/plain", b"fine").await;
    for kind in ["download", "preview"] {
        let reply = client
            .get(&format!("/files/{}/{kind}", id(&file)))
            .await
            .expect(200)
            .body;
        let url = reply["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/d/", app.settings.files.public_url)),
            "{url}"
        );
        assert!(reply["expires_at"].as_str().unwrap().ends_with('Z'));
    }
    client
        .delete(&format!("/files/{}", id(&file)))
        .await
        .expect(200);
    client
        .get(&format!("/files/{}/download", id(&file)))
        .await
        .expect(409);
    client
        .get(&format!("/files/{}/preview", Uuid::new_v4()))
        .await
        .expect(404);
}
