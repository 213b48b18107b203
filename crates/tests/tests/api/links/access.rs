//! Who may fetch a link and how often: passwords over Basic auth (remembered once
//! right), download caps counting only full GETs, and uncapped counts written in
//! batches.

use super::*;

#[tokio::test]
async fn password_links_ask_with_basic_auth_and_remember_success() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "secret.txt", "text/plain", b"classified").await;
    let url = link(
        &client,
        json!({ "file_id": file, "password": "open sesame" }),
    )
    .await;
    let challenge = fetch(&app, Method::GET, &url, &[]).await;
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&challenge, "www-authenticate"),
        "Basic realm=\"fluidcloud\""
    );
    assert_eq!(
        names(&challenge),
        expected(&["content-type", "content-length", "www-authenticate"])
    );
    let wrong = app
        .http
        .get(&url)
        .basic_auth("anyone", Some("open says me"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..3 {
        let right = app
            .http
            .get(&url)
            .basic_auth("anyone", Some("open sesame"))
            .header("range", "bytes=0-3")
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(header(&right, "cache-control"), "private, no-store");
        assert_eq!(right.bytes().await.unwrap().as_ref(), b"clas");
    }
}

#[tokio::test]
async fn download_caps_count_only_full_gets() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "c.txt", "text/plain", b"0123456789").await;
    let url = link(&client, json!({ "file_id": file, "max_downloads": 2 })).await;
    // HEAD and ranges that do not start at 0 are free.
    assert_eq!(
        fetch(&app, Method::HEAD, &url, &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        fetch(&app, Method::GET, &url, &[("range", "bytes=5-")])
            .await
            .status(),
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(
        fetch(&app, Method::GET, &url, &[]).await.status(),
        StatusCode::OK
    );
    let first_range = fetch(&app, Method::GET, &url, &[("range", "bytes=0-1")]).await;
    assert_eq!(
        first_range.status(),
        StatusCode::PARTIAL_CONTENT,
        "a range from byte 0 counts too"
    );
    assert_eq!(header(&first_range, "cache-control"), "private, no-store");
    assert_eq!(
        fetch(&app, Method::GET, &url, &[]).await.status(),
        StatusCode::GONE
    );
    let listed = client.get("/shares?include_inactive=true").await.body;
    assert_eq!(listed[0]["download_count"], 2);
    // Exhausted links no longer count toward the listing of active ones.
    assert_eq!(client.get("/shares").await.body, json!([]));
}

#[tokio::test]
async fn uncapped_downloads_are_counted_in_batches() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "d.txt", "text/plain", b"count me").await;
    let url = link(&client, json!({ "file_id": file })).await;
    for _ in 0..3 {
        assert_eq!(
            fetch(&app, Method::GET, &url, &[]).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        fetch(&app, Method::HEAD, &url, &[]).await.status(),
        StatusCode::OK
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = client.get("/shares").await.body[0]["download_count"]
            .as_i64()
            .unwrap();
        if count == 3 {
            break;
        }
        assert!(
            count < 3 && Instant::now() < deadline,
            "download_count is {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits out the end of a minute, so a test's failures land in one budget window.
async fn early_in_a_minute() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(u64::try_from(61 - second).unwrap())).await;
    }
}

async fn with_password(app: &TestApp, url: &str, password: &str) -> Response {
    app.http
        .get(url)
        .basic_auth("anyone", Some(password))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_passwords_lock_a_link_on_every_files_server() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "vault.txt", "text/plain", b"gold").await;
    let url = link(&client, json!({ "file_id": file, "password": "4711" })).await;
    let other = app.another_files_server().await;
    let on_other = format!("{other}{}", &url[url.find("/s/").unwrap()..]);
    early_in_a_minute().await;
    // Ten wrong guesses, spread over both servers, are each told 401.
    for guess in 0..10 {
        let target = if guess % 2 == 0 { &url } else { &on_other };
        let reply = with_password(&app, target, &format!("{guess:04}")).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    // The eleventh is refused unheard on both, the right password too.
    for target in [&url, &on_other] {
        for password in ["0010", "4711"] {
            let reply = with_password(&app, target, password).await;
            assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS, "{target}");
            let retry: i64 = header(&reply, "retry-after").parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
        }
    }
    // Asking without credentials is not a guess: still the challenge.
    assert_eq!(
        fetch(&app, Method::GET, &url, &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn one_address_guessing_across_links_is_slowed_down() {
    let app = TestApp::spawn_with(|s| s.files.password_failures_per_ip = 3).await;
    let client = app.tenant().await;
    let file = clean(&client, "vault.txt", "text/plain", b"gold").await;
    let mut links = Vec::new();
    for n in 0..4 {
        links.push(
            link(
                &client,
                json!({ "file_id": file, "password": format!("pw-{n}") }),
            )
            .await,
        );
    }
    early_in_a_minute().await;
    for url in &links[..3] {
        assert_eq!(
            with_password(&app, url, "nope").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let reply = with_password(&app, &links[3], "nope").await;
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&reply, "retry-after").parse::<i64>().unwrap() >= 1);
}
