//! Content types are stored and served canonical on every path a type comes in by:
//! `initiate.content_type`, `complete.mime` and an import's remote header. A type list
//! such as `text/plain;,text/html` (HTML to a browser) is refused or replaced, never
//! served.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::{ApiClient, send};
use serde_json::json;

const LISTS: [&str; 3] = [
    "text/plain;,text/html",
    "text/plain, image/svg+xml",
    "text/plain; charset=utf-8, text/html",
];

#[tokio::test]
async fn initiate_refuses_type_lists_and_stores_the_canonical_form() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    for declared in LISTS
        .into_iter()
        .chain(["text/plain; boundary=x", "text/plain;"])
    {
        let reply = client
            .initiate(space, "a.txt", declared, 4)
            .await
            .expect(422);
        assert!(
            reply
                .detail()
                .as_str()
                .unwrap()
                .starts_with("content_type:"),
            "{}",
            reply.text
        );
    }
    assert_eq!(client.get("/quota").await.body["bytes_reserved"], 0);

    // The PUT is signed for the type as the client declared it (the SDK sends its own).
    let declared = "Text/Plain; Charset=\"UTF-8\"";
    let ticket = client
        .initiate(space, "a.txt", declared, 4)
        .await
        .expect(200)
        .body;
    assert_eq!(ticket["headers"]["content-type"], declared);
    assert!(
        client
            .put_single(&ticket, b"four".to_vec())
            .await
            .is_success()
    );
    let mut body = ApiClient::completion(&ticket, space, "a.txt", declared, b"four");
    body.as_object_mut().unwrap().remove("mime");
    let file = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .body;
    assert_eq!(file["mime"], "text/plain; charset=utf-8");
}

#[tokio::test]
async fn complete_refuses_a_type_list_in_mime_and_keeps_the_upload_open() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let ticket = client
        .initiate(space, "a.txt", "text/plain", 4)
        .await
        .expect(200)
        .body;
    assert!(
        client
            .put_single(&ticket, b"four".to_vec())
            .await
            .is_success()
    );
    let mut body = ApiClient::completion(&ticket, space, "a.txt", "text/plain", b"four");
    for list in LISTS {
        body["mime"] = json!(list);
        let reply = client.post("/uploads/complete", &body).await.expect(422);
        assert!(
            reply.detail().as_str().unwrap().starts_with("mime:"),
            "{}",
            reply.text
        );
    }
    body["mime"] = json!("TEXT/CSV");
    let file = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .body;
    assert_eq!(file["mime"], "text/csv");
}

#[tokio::test]
async fn an_imported_type_list_is_replaced_and_never_served() {
    let origin = Router::new().route(
        "/page",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/plain;,text/html")],
                "<html><body><script>alert(1)</script></body></html>",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, origin).await });
    let app =
        TestApp::spawn_with(|s| s.import.allowed_networks = vec!["127.0.0.1/32".into()]).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .post(
            "/uploads/import-url",
            &json!({ "url": url, "space_id": space }),
        )
        .await
        .expect(201)
        .body;
    let file = client.wait_for_scan(file["id"].as_str().unwrap()).await;
    let mime = file["mime"].as_str().unwrap();
    assert!(!mime.contains(',') && !mime.contains(';'), "{mime}");
    let link = client
        .post("/shares", &json!({ "file_id": file["id"] }))
        .await
        .expect(201)
        .body;
    let served = send(app.http.get(link["url"].as_str().unwrap()))
        .await
        .expect(200);
    let content_type = served.header("content-type").unwrap();
    assert!(!content_type.contains(','), "{content_type}");
    // Whatever was detected, HTML never renders inline on the files origin.
    if content_type.starts_with("text/html") {
        assert!(
            served
                .header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );
    }
}
