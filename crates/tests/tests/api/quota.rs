//! `GET /quota` after every kind of mutation equals a recomputation from the rows.

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};

/// Asserts `/quota` equals the usage recomputed from files, uploads and shares.
async fn consistent(app: &TestApp, client: &ApiClient, step: &str) -> Value {
    let reported = client.get("/quota").await.expect(200).body;
    let recounted = app.store.recount_usage(client.tenant_id).await.unwrap();
    assert_eq!(
        reported,
        serde_json::to_value(&recounted).unwrap(),
        "after {step}"
    );
    reported
}

#[tokio::test]
async fn quota_matches_the_rows_after_every_mutation() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    consistent(&app, &client, "nothing").await;

    let a = client
        .upload(space, "a.txt", "text/plain", &[b'a'; 1000])
        .await;
    let q = consistent(&app, &client, "an upload").await;
    assert_eq!(q["bytes_used"], 1000);
    let talk = client
        .upload_with(space, "t.txt", "text/plain", b"talk", |_| {})
        .await
        .file
        .expect(201)
        .body;
    let _ = talk;
    client
        .initiate(space, "open.txt", "text/plain", 77)
        .await
        .expect(200);
    let q = consistent(&app, &client, "an open upload").await;
    assert_eq!(q["bytes_reserved"], 77);

    let eicar = client
        .upload(
            space,
            "e.com",
            "application/octet-stream",
            fluidcloud_scan::EICAR,
        )
        .await;
    assert_eq!(eicar["scan_status"], "infected");
    consistent(&app, &client, "an infected upload").await;

    let id = a["id"].as_str().unwrap();
    client.delete(&format!("/files/{id}")).await.expect(200);
    consistent(&app, &client, "trash").await;
    client
        .post(&format!("/files/{id}/restore"), &Value::Null)
        .await
        .expect(200);
    consistent(&app, &client, "restore").await;

    let link = client
        .post("/shares", &json!({ "file_id": id, "expires_in_days": 2 }))
        .await
        .expect(201)
        .id();
    let q = consistent(&app, &client, "an expiring link").await;
    assert_eq!(q["links_used"], 1);
    client
        .post("/shares", &json!({ "file_id": id }))
        .await
        .expect(201);
    consistent(&app, &client, "a permanent link").await;
    client.delete(&format!("/shares/{link}")).await;
    let q = consistent(&app, &client, "a revocation").await;
    assert_eq!(q["links_used"], 0);
    let capped = client
        .post(
            "/shares",
            &json!({ "file_id": id, "expires_in_days": 1, "max_downloads": 1 }),
        )
        .await
        .expect(201);
    assert_eq!(
        app.http
            .get(capped.body["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let q = consistent(&app, &client, "an exhausted link").await;
    assert_eq!(q["links_used"], 0);

    client
        .delete(&format!("/gdpr/files/{id}"))
        .await
        .expect(200);
    let q = consistent(&app, &client, "a purge").await;
    assert_eq!(q["bytes_used"], 4);
    client
        .delete(&format!("/files/{}", talk_id(&client, space).await))
        .await
        .expect(200);
    client
        .delete(&format!("/gdpr/trash?space_id={space}"))
        .await
        .expect(202);
    let q = consistent(&app, &client, "emptying the Trash").await;
    assert_eq!(q["bytes_used"], 0);
    assert_eq!(q["by_app"], json!([]));

    // A second space, then its purge in the worker.
    let other = client
        .post("/spaces", &json!({ "name": "other", "app": "other-app" }))
        .await
        .expect(201)
        .id();
    client
        .upload(other, "o.txt", "text/plain", &[b'o'; 300])
        .await;
    let q = consistent(&app, &client, "an upload to a second space").await;
    assert_eq!(
        q["by_app"],
        json!([{ "app": "fluidcloud", "bytes": 300, "files": 1 }])
    );
    client
        .delete(&format!("/spaces/{other}?purge=true"))
        .await
        .expect(202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The space leaves listings at once; its rows go in the worker.
    while app
        .store
        .recount_usage(client.tenant_id)
        .await
        .unwrap()
        .bytes_used
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the space was never purged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let q = consistent(&app, &client, "a space purge").await;
    assert_eq!(q["by_app"], json!([]));
}

async fn talk_id(client: &ApiClient, space: uuid::Uuid) -> String {
    let files = client
        .get(&format!("/files?space_id={space}"))
        .await
        .expect(200)
        .body;
    files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["original_name"] == "t.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
