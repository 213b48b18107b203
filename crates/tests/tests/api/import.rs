//! `POST /uploads/import-url`: fetching from the web without becoming a proxy into the
//! server's own network.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use fluidcloud_core::model::Plan;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::json;

const CONTENT: &[u8] = b"imported bytes, plain text";

/// A small web server on 127.0.0.1: files, redirects, errors and a slow answer.
async fn origin() -> String {
    let app = Router::new()
        .route(
            "/files/{name}",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], CONTENT) }),
        )
        .route("/big", get(|| async { vec![b'x'; 4096] }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/hops/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    Redirect::to("/files/after-hops.txt")
                } else {
                    Redirect::to(&format!("/hops/{}", n - 1))
                }
            }),
        )
        .route(
            "/to",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Redirect::to(&q["target"]).into_response()
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The API with 127.0.0.1 exempted (only it), so the local origin stands in for the web.
async fn app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.import.allowed_networks = vec!["127.0.0.1/32".into()];
        s.import.timeout_secs = 2;
        s.import.max_bytes = 1024;
    })
    .await
}

async fn import(client: &ApiClient, url: &str) -> fluidcloud_tests::app::Reply {
    let space = client.default_space().await;
    client
        .post(
            "/uploads/import-url",
            &json!({ "url": url, "space_id": space }),
        )
        .await
}

#[tokio::test]
async fn a_public_file_is_imported_and_scanned() {
    let app = app().await;
    let origin = origin().await;
    let client = app.tenant().await;
    let file = import(&client, &format!("{origin}/files/report%20v1.txt"))
        .await
        .expect(201)
        .body;
    assert_eq!(file["original_name"], "report v1.txt");
    assert_eq!(file["size"], CONTENT.len());
    assert_eq!(file["scan_status"], "clean");
    assert_eq!(file["mime"], "text/plain");
    let space = client.default_space().await;
    let named = client
        .post("/uploads/import-url", &json!({ "url": format!("{origin}/hops/4"), "space_id": space, "original_name": "mine.txt", "client_key": "k1" }))
        .await
        .expect(201)
        .body;
    assert_eq!(named["original_name"], "mine.txt");
    assert_eq!(
        client
            .get("/files/resolve?client_key=k1")
            .await
            .expect(200)
            .body["id"],
        named["id"]
    );
    assert_eq!(
        client.get("/quota").await.body["bytes_used"],
        2 * CONTENT.len()
    );
}

#[tokio::test]
async fn private_loopback_and_metadata_addresses_are_refused() {
    // No exemptions at all: the default configuration.
    let app = TestApp::spawn().await;
    let origin = origin().await;
    let client = app.tenant().await;
    let port = origin.rsplit(':').next().unwrap();
    for url in [
        format!("{origin}/files/a.txt"),
        format!("http://localhost:{port}/files/a.txt"),
        format!("http://[::1]:{port}/files/a.txt"),
        "http://10.0.0.1/x".into(),
        "http://192.168.1.1/x".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[fd00:ec2::254]/latest".into(),
        "http://0.0.0.0/".into(),
        // IPv6 forms that carry a private IPv4 address, and local-use NAT64.
        "http://[::ffff:0:7f00:1]/".into(),
        "http://[2002:7f00:1::1]/".into(),
        "http://[64:ff9b:1::a00:1]/".into(),
        "ftp://example.com/file".into(),
        "file:///etc/passwd".into(),
        "not a url".into(),
    ] {
        let reply = import(&client, &url).await;
        assert_eq!(reply.status.as_u16(), 400, "{url}: {}", reply.text);
        // What a name resolves to is never told.
        let detail = reply.detail().as_str().unwrap();
        assert!(
            !detail.contains("127.0.0.1") && !detail.contains("::1"),
            "{url}: {detail}"
        );
    }
    assert_eq!(client.get("/quota").await.body["bytes_used"], 0);
}

#[tokio::test]
async fn redirects_are_checked_like_the_first_address() {
    let app = app().await;
    let origin = origin().await;
    let client = app.tenant().await;
    let port = origin.rsplit(':').next().unwrap();
    for target in [
        format!("http://127.0.0.2:{port}/files/a.txt"),
        "http://10.1.2.3/secret".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "gopher://127.0.0.1/x".into(),
    ] {
        let url = format!(
            "{origin}/to?target={}",
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        );
        let reply = import(&client, &url).await;
        assert_eq!(
            reply.status.as_u16(),
            400,
            "redirect to {target}: {}",
            reply.text
        );
    }
    // At most five redirects: /hops/4 takes five, /hops/5 six.
    import(&client, &format!("{origin}/hops/4"))
        .await
        .expect(201);
    import(&client, &format!("{origin}/hops/5"))
        .await
        .expect(400);
}

#[tokio::test]
async fn size_quota_status_and_time_limits_apply() {
    let app = app().await;
    let origin = origin().await;
    let client = app.tenant().await;
    let reply = import(&client, &format!("{origin}/big")).await.expect(413);
    assert!(reply.detail().as_str().unwrap().contains("1024"));
    import(&client, &format!("{origin}/missing"))
        .await
        .expect(400);
    let started = std::time::Instant::now();
    let reply = import(&client, &format!("{origin}/slow")).await.expect(400);
    assert!(
        reply.detail().as_str().unwrap().contains("within"),
        "{}",
        reply.text
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let small = app
        .tenant_with_plan(Plan {
            bytes_limit: 5,
            ..Plan::unlimited()
        })
        .await;
    let reply = import(&small, &format!("{origin}/files/a.txt"))
        .await
        .expect(402);
    assert_eq!(reply.detail()["limit"], "storage");
    // Past the size limits it is still 413, whatever the room.
    import(&small, &format!("{origin}/big")).await.expect(413);
    // No room at all: refused before the URL is even asked (this one would stall).
    let full = app
        .tenant_with_plan(Plan {
            bytes_limit: 0,
            ..Plan::unlimited()
        })
        .await;
    let started = std::time::Instant::now();
    let reply = import(&full, &format!("{origin}/slow")).await.expect(402);
    assert_eq!(reply.detail()["used"], 0);
    assert_eq!(reply.detail()["limit_value"], 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    let space = client.default_space().await;
    let missing = uuid::Uuid::new_v4();
    client
        .post("/uploads/import-url", &json!({ "url": format!("{origin}/files/a.txt"), "space_id": space, "folder_id": missing }))
        .await
        .expect(404);
    client
        .post(
            "/uploads/import-url",
            &json!({ "url": 5, "space_id": space }),
        )
        .await
        .expect(422);
}

/// A source that says when it is asked, then stalls; its URL and the news of each ask.
async fn stalling_source() -> (String, tokio::sync::mpsc::Receiver<()>) {
    let (asked, was_asked) = tokio::sync::mpsc::channel::<()>(8);
    let stalling = Router::new().route(
        "/stall",
        get(move || {
            let asked = asked.clone();
            async move {
                let _ = asked.send(()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stall", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, stalling).await });
    (url, was_asked)
}

#[tokio::test]
async fn imports_past_the_concurrency_limit_are_told_to_retry() {
    let app = TestApp::spawn_with(|s| {
        s.import.allowed_networks = vec!["127.0.0.1/32".into()];
        s.import.timeout_secs = 2;
        s.import.max_concurrent = 1;
    })
    .await;
    let (stall_url, mut was_asked) = stalling_source().await;
    let origin = origin().await;
    let client = app.tenant().await;
    // One import holds the only slot while its source stalls...
    let stalled = import(&client, &stall_url);
    let refused = async {
        was_asked.recv().await;
        import(&client, &format!("{origin}/files/b.txt")).await
    };
    let (stalled, refused) = tokio::join!(stalled, refused);
    // ...so the next is refused at once, in the envelope, and the first times out.
    let refused = refused.expect(503);
    assert!(
        refused.detail().as_str().unwrap().contains("retry"),
        "{}",
        refused.text
    );
    stalled.expect(400);
    // The slot is free again.
    import(&client, &format!("{origin}/files/c.txt"))
        .await
        .expect(201);
}

#[tokio::test]
async fn one_tenant_with_slow_sources_cannot_take_every_import_slot() {
    let app = TestApp::spawn_with(|s| {
        s.import.allowed_networks = vec!["127.0.0.1/32".into()];
        s.import.timeout_secs = 3;
        s.import.max_concurrent = 4;
        s.import.max_concurrent_per_tenant = 2;
    })
    .await;
    let (stall_url, mut was_asked) = stalling_source().await;
    let origin = origin().await;
    let greedy = app.tenant().await;
    let other = app.tenant().await;
    // The greedy tenant's two slow imports hold its share...
    let first = import(&greedy, &stall_url);
    let second = import(&greedy, &stall_url);
    let meanwhile = async {
        was_asked.recv().await;
        was_asked.recv().await;
        // ...its third is refused at once, while another tenant still imports.
        let third = import(&greedy, &format!("{origin}/files/g.txt")).await;
        let others = import(&other, &format!("{origin}/files/o.txt")).await;
        (third, others)
    };
    let (first, second, (third, others)) = tokio::join!(first, second, meanwhile);
    third.expect(503);
    others.expect(201);
    first.expect(400);
    second.expect(400);
    // Its share is free again.
    import(&greedy, &format!("{origin}/files/h.txt"))
        .await
        .expect(201);
}
