//! What happens to links as their files change: bytes overwritten after the scan,
//! revocation, trash, renames and purges reaching every files server, methods and
//! paths links do not answer, concurrent caps, and cookies never set.

use super::*;

#[tokio::test]
async fn bytes_written_over_a_scanned_file_are_never_served() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let scanned = bytes(2 << 20, 7); // past the memory cache, so every read asks the store
    let uploaded = client
        .upload_with(space, "v.bin", "application/octet-stream", &scanned, |_| {})
        .await;
    let file = uploaded.file.expect(201).body;
    let file = client.wait_for_scan(file["id"].as_str().unwrap()).await;
    assert_eq!(file["scan_status"], "clean");
    let file_id = file["id"].as_str().unwrap();
    let url = link(&client, json!({ "file_id": file_id })).await;
    let reply = fetch(&app, Method::GET, &url, &[]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.bytes().await.unwrap().as_ref() == scanned.as_slice());

    // The single-PUT URL is still valid: write other bytes of the same length over it.
    let status = client
        .put_single(&uploaded.ticket, bytes(scanned.len(), 8))
        .await;
    assert!(
        status.is_success(),
        "the store took the second PUT: {status}"
    );
    let download = client
        .get(&format!("/files/{file_id}/download"))
        .await
        .expect(200)
        .body;
    for target in [url.as_str(), download["url"].as_str().unwrap()] {
        for range in [None, Some("bytes=100-199")] {
            let headers: Vec<(&str, &str)> = range.map(|r| vec![("range", r)]).unwrap_or_default();
            let reply = fetch(&app, Method::GET, target, &headers).await;
            assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{target} {range:?}");
        }
    }
}

#[tokio::test]
async fn head_is_get_without_the_body() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "h.txt", "text/plain", b"head and get").await;
    let url = link(&client, json!({ "file_id": file })).await;
    for range in [None, Some("bytes=2-5")] {
        let headers: Vec<(&str, &str)> = range.map(|r| vec![("range", r)]).unwrap_or_default();
        let get = fetch(&app, Method::GET, &url, &headers).await;
        let head = fetch(&app, Method::HEAD, &url, &headers).await;
        assert_eq!(get.status(), head.status());
        let strip = |r: &Response| {
            r.headers()
                .iter()
                .filter(|(k, _)| *k != "date")
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&get), strip(&head), "{range:?}");
        assert!(head.bytes().await.unwrap().is_empty());
        assert!(!get.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn active_content_is_always_an_attachment() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let html = clean(
        &client,
        "page.html",
        "text/html",
        b"<html><script>alert(1)</script></html>",
    )
    .await;
    let svg = clean(
        &client,
        "pic.svg",
        "image/svg+xml",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .await;
    for (file, mime) in [(html, "text/html"), (svg, "image/svg+xml")] {
        let url = link(&client, json!({ "file_id": file, "permission": "view" })).await;
        let reply = fetch(&app, Method::GET, &url, &[]).await;
        assert_eq!(header(&reply, "content-type"), mime);
        assert!(
            header(&reply, "content-disposition").starts_with("attachment;"),
            "{mime}"
        );
        let preview = client
            .get(&format!("/files/{file}/preview"))
            .await
            .expect(200)
            .body;
        let reply = fetch(&app, Method::GET, preview["url"].as_str().unwrap(), &[]).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(
            header(&reply, "content-disposition").starts_with("attachment;"),
            "preview of {mime}"
        );
    }
}

#[tokio::test]
async fn owner_urls_serve_until_they_expire() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let data = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRrest".to_vec();
    let file = clean(&client, "p.png", "image/png", &data).await;
    let download = client
        .get(&format!("/files/{file}/download"))
        .await
        .expect(200)
        .body;
    let reply = fetch(&app, Method::GET, download["url"].as_str().unwrap(), &[]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(header(&reply, "content-disposition").starts_with("attachment;"));
    assert_eq!(header(&reply, "cache-control"), "private, no-store");
    assert!(reply.headers().get("set-cookie").is_none());
    assert_eq!(reply.bytes().await.unwrap().as_ref(), data.as_slice());
    let preview = client
        .get(&format!("/files/{file}/preview"))
        .await
        .expect(200)
        .body;
    let reply = fetch(&app, Method::GET, preview["url"].as_str().unwrap(), &[]).await;
    assert!(header(&reply, "content-disposition").starts_with("inline;"));

    let signer = Signer::new(&app.settings.signing).unwrap();
    let expired = signer.sign_download(&DownloadGrant {
        file_id: file.parse().unwrap(),
        expires_at: chrono::Utc::now().timestamp() - 1,
        disposition: Disposition::Attachment,
    });
    assert_eq!(
        fetch(
            &app,
            Method::GET,
            &format!("{}/d/{expired}", app.files_url),
            &[]
        )
        .await
        .status(),
        StatusCode::GONE
    );
    let url = download["url"].as_str().unwrap();
    let tampered = format!("{}X", &url[..url.len() - 1]);
    assert_eq!(
        fetch(&app, Method::GET, &tampered, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    client.delete(&format!("/files/{file}")).await.expect(200);
    wait_for_status(&app, url, &[], StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_revoked_link_stops_on_every_files_server_within_a_second() {
    let app = TestApp::spawn().await;
    let second = app.another_files_server().await;
    let client = app.tenant().await;
    let file = clean(&client, "r.txt", "text/plain", b"revoke me").await;
    let created = client
        .post("/shares", &json!({ "file_id": file }))
        .await
        .expect(201)
        .body;
    let url = created["url"].as_str().unwrap().to_owned();
    let on_second = url.replace(&app.files_url, &second);
    // Both servers have the link cached.
    for _ in 0..2 {
        assert_eq!(
            fetch(&app, Method::GET, &url, &[]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            fetch(&app, Method::GET, &on_second, &[]).await.status(),
            StatusCode::OK
        );
    }
    client
        .delete(&format!("/shares/{}", created["id"].as_str().unwrap()))
        .await;
    // Both clocks start when the revocation returns.
    tokio::join!(
        wait_for_status(&app, &url, &[], StatusCode::GONE),
        wait_for_status(&app, &on_second, &[], StatusCode::GONE)
    );
}

/// Polls every URL until each answers `status`, all within a second of the call.
async fn wait_everywhere(app: &TestApp, urls: &[String], status: StatusCode) {
    futures_util::future::join_all(
        urls.iter()
            .map(|url| wait_for_status(app, url, &[], status)),
    )
    .await;
}

#[tokio::test]
async fn folder_trash_renames_and_space_purges_reach_cached_links_within_a_second() {
    // No worker: the links must stop because the change is announced, not because a
    // purge job happened to run (small uploads are judged inline).
    let app = TestApp::spawn_without_worker(|_| {}).await;
    let second = app.another_files_server().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let folder = client
        .create_folder(space, None, "docs")
        .await
        .expect(201)
        .id();
    let nested = client
        .create_folder(space, Some(folder), "deeper")
        .await
        .expect(201)
        .id();
    let file_id = clean(&client, "plan.txt", "text/plain", b"the plan").await;
    client
        .patch(
            &format!("/files/{file_id}"),
            &json!({ "folder_id": nested }),
        )
        .await
        .expect(200);
    let url = link(&client, json!({ "file_id": file_id })).await;
    let both = [url.clone(), url.replace(&app.files_url, &second)];
    for url in &both {
        let reply = fetch(&app, Method::GET, url, &[]).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(
            header(&reply, "content-disposition"),
            "inline; filename*=UTF-8''plan.txt"
        );
    }

    // Trashing an ancestor folder trashes the file: every cached link stops.
    client.trash_folder(folder).await.expect(200);
    wait_everywhere(&app, &both, StatusCode::NOT_FOUND).await;
    client.restore_folder(folder).await.expect(200);
    wait_everywhere(&app, &both, StatusCode::OK).await;

    // A rename changes the name links give the file.
    client
        .patch(
            &format!("/files/{file_id}"),
            &json!({ "original_name": "final plan.txt" }),
        )
        .await
        .expect(200);
    let started = Instant::now();
    for url in &both {
        loop {
            let reply = fetch(&app, Method::GET, url, &[]).await;
            if header(&reply, "content-disposition") == "inline; filename*=UTF-8''final%20plan.txt"
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{url} kept the old name"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Purging the space hides everything in it at once, before any job runs.
    client
        .delete(&format!("/spaces/{space}?purge=true"))
        .await
        .expect(202);
    wait_everywhere(&app, &both, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn other_methods_and_undecodable_paths_get_plain_errors_and_preflights_pass() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "m.txt", "text/plain", b"methods").await;
    let url = link(&client, json!({ "file_id": file })).await;

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = fetch(&app, method.clone(), &url, &[]).await;
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            names(&reply),
            expected(&["content-type", "content-length", "allow"])
        );
        assert_eq!(header(&reply, "allow"), "GET, HEAD, OPTIONS");
        assert_eq!(header(&reply, "cache-control"), "no-store");
    }
    for path in ["/s/%FF", "/d/%FF%FE", "/s/%00"] {
        let reply = fetch(&app, Method::GET, &format!("{}{path}", app.files_url), &[]).await;
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(names(&reply), expected(&["content-type", "content-length"]));
    }

    let preflight = fetch(
        &app,
        Method::OPTIONS,
        &url,
        &[
            ("origin", "https://partner.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "range, authorization"),
        ],
    )
    .await;
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
    assert_eq!(
        header(&preflight, "access-control-allow-methods"),
        "GET, HEAD"
    );
    let allowed = header(&preflight, "access-control-allow-headers").to_ascii_lowercase();
    for name in ["range", "authorization", "if-none-match", "if-range"] {
        assert!(allowed.contains(name), "{allowed}");
    }
}

#[tokio::test]
async fn a_download_cap_holds_under_concurrent_downloads() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "race.txt", "text/plain", b"only three").await;
    let url = link(&client, json!({ "file_id": file, "max_downloads": 3 })).await;
    let attempts = (0..20).map(|_| fetch(&app, Method::GET, &url, &[]));
    let replies = futures_util::future::join_all(attempts).await;
    let mut served = 0;
    for reply in replies {
        match reply.status() {
            StatusCode::OK => {
                served += 1;
                assert_eq!(reply.bytes().await.unwrap().as_ref(), b"only three");
            }
            StatusCode::GONE => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(served, 3);
    let listed = client.get("/shares?include_inactive=true").await.body;
    assert_eq!(listed[0]["download_count"], 3);
}

#[tokio::test]
async fn no_response_ever_sets_a_cookie() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "n.txt", "text/plain", b"no cookies").await;
    let url = link(&client, json!({ "file_id": file, "password": "pass word" })).await;
    for (method, target) in [
        (Method::GET, url.clone()),
        (Method::HEAD, url.clone()),
        (Method::GET, format!("{}/s/garbage", app.files_url)),
        (Method::GET, format!("{}/healthz", app.files_url)),
        (Method::POST, url.clone()),
    ] {
        let reply = fetch(&app, method.clone(), &target, &[]).await;
        assert!(
            reply.headers().get("set-cookie").is_none(),
            "{method} {target}"
        );
    }
}
