//! The raw-link server over its real listening port: every status, the exact headers,
//! ranges, conditional requests, safe dispositions, passwords, download caps,
//! revocation across instances, and streaming in constant memory.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fluidcloud_core::signing::{Disposition, DownloadGrant, Signer};
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

/// Deterministic pseudo-random bytes.
pub(super) fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

pub(super) async fn link(client: &ApiClient, body: Value) -> String {
    client.post("/shares", &body).await.expect(201).body["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(super) async fn fetch(
    app: &TestApp,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = app.http.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the files server answers")
}

pub(super) fn names(response: &Response) -> BTreeSet<String> {
    response
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect()
}

pub(super) fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header"))
}

pub(super) const SAFETY: [&str; 6] = [
    "x-content-type-options",
    "content-security-policy",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-resource-policy",
    "access-control-allow-origin",
];

pub(super) fn expected(extra: &[&str]) -> BTreeSet<String> {
    SAFETY
        .iter()
        .chain(["date", "cache-control"].iter())
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

/// A file uploaded and clean, and its bytes.
pub(super) async fn clean(client: &ApiClient, name: &str, mime: &str, data: &[u8]) -> String {
    let space = client.default_space().await;
    let file = client.upload(space, name, mime, data).await;
    let file = client.wait_for_scan(file["id"].as_str().unwrap()).await;
    assert_eq!(file["scan_status"], "clean", "{file}");
    file["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_permanent_link_serves_the_bytes_with_exactly_the_documented_headers() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let png = [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice(), &bytes(5000, 1)].concat();
    let file = clean(&client, "my logo.png", "image/png", &png).await;
    let url = link(&client, json!({ "file_id": file })).await;

    let ok = fetch(&app, Method::GET, &url, &[]).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        names(&ok),
        expected(&[
            "content-type",
            "content-length",
            "etag",
            "last-modified",
            "accept-ranges",
            "content-disposition",
            "access-control-expose-headers"
        ])
    );
    assert_eq!(header(&ok, "content-type"), "image/png");
    assert_eq!(header(&ok, "content-length"), png.len().to_string());
    assert_eq!(
        header(&ok, "etag"),
        format!("\"{}\"", hex::encode(sha2::Sha256::digest(&png)))
    );
    assert!(header(&ok, "last-modified").ends_with(" GMT"));
    assert_eq!(header(&ok, "accept-ranges"), "bytes");
    assert_eq!(
        header(&ok, "content-disposition"),
        "inline; filename*=UTF-8''my%20logo.png"
    );
    assert_eq!(header(&ok, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&ok, "content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    );
    assert_eq!(header(&ok, "x-frame-options"), "DENY");
    assert_eq!(header(&ok, "referrer-policy"), "no-referrer");
    assert_eq!(header(&ok, "cross-origin-resource-policy"), "cross-origin");
    assert_eq!(header(&ok, "access-control-allow-origin"), "*");
    assert_eq!(
        header(&ok, "access-control-expose-headers"),
        "Accept-Ranges, Content-Range, Content-Disposition, ETag"
    );
    assert_eq!(header(&ok, "cache-control"), "public, max-age=3600");
    let etag = header(&ok, "etag").to_owned();
    assert_eq!(ok.bytes().await.unwrap().as_ref(), png.as_slice());

    let partial = fetch(&app, Method::GET, &url, &[("range", "bytes=10-19")]).await;
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        names(&partial),
        expected(&[
            "content-type",
            "content-length",
            "etag",
            "last-modified",
            "accept-ranges",
            "content-disposition",
            "content-range",
            "access-control-expose-headers"
        ])
    );
    assert_eq!(
        header(&partial, "content-range"),
        format!("bytes 10-19/{}", png.len())
    );
    assert_eq!(partial.bytes().await.unwrap().as_ref(), &png[10..20]);

    let cached = fetch(&app, Method::GET, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        names(&cached),
        expected(&[
            "etag",
            "last-modified",
            "accept-ranges",
            "access-control-expose-headers"
        ])
    );
    assert!(cached.bytes().await.unwrap().is_empty());

    let unsatisfiable = fetch(&app, Method::GET, &url, &[("range", "bytes=999999-")]).await;
    assert_eq!(unsatisfiable.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&unsatisfiable, "content-range"),
        format!("bytes */{}", png.len())
    );
}

#[tokio::test]
async fn every_failure_has_its_status_and_a_short_uncached_body() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "a.txt", "text/plain", b"some text").await;
    let url = link(&client, json!({ "file_id": file })).await;
    let error_headers = expected(&["content-type", "content-length"]);

    // Forged or unknown tokens: 404 without a lookup.
    let token = url.rsplit('/').next().unwrap();
    let mut forged = token.to_owned();
    forged.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    let signer = Signer::new(&app.settings.signing).unwrap();
    let (never_stored, _) = signer.mint_share_token();
    let lookups = link_lookups(&app).await;
    for bad in [forged.as_str(), "nothing", "a.b.c", never_stored.as_str()] {
        let reply = fetch(
            &app,
            Method::GET,
            &format!("{}/s/{bad}", app.files_url),
            &[],
        )
        .await;
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(names(&reply), error_headers);
        assert_eq!(header(&reply, "cache-control"), "no-store");
        assert!(header(&reply, "content-type").starts_with("text/plain"));
        if bad != never_stored {
            assert_eq!(
                link_lookups(&app).await,
                lookups,
                "a bad MAC costs no query"
            );
        }
    }
    fetch(
        &app,
        Method::GET,
        &format!("{}/elsewhere", app.files_url),
        &[],
    )
    .await
    .status()
    .eq(&StatusCode::NOT_FOUND)
    .then_some(())
    .unwrap();

    // Trashed: 404; restored: served again (the link was never revoked).
    client.delete(&format!("/files/{file}")).await.expect(200);
    wait_for_status(&app, &url, &[], StatusCode::NOT_FOUND).await;
    client
        .post(&format!("/files/{file}/restore"), &Value::Null)
        .await
        .expect(200);
    wait_for_status(&app, &url, &[], StatusCode::OK).await;

    // Revoked: 410.
    let share = client.get(&format!("/shares?file_id={file}")).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client.delete(&format!("/shares/{share}")).await;
    let gone = wait_for_status(&app, &url, &[], StatusCode::GONE).await;
    assert_eq!(names(&gone), error_headers);

    // Expired: 410.
    let expiring = link(&client, json!({ "file_id": file, "expires_in_days": 1 })).await;
    app.db.expire_links().await;
    let reply = fetch(&app, Method::GET, &expiring, &[]).await;
    assert_eq!(reply.status(), StatusCode::GONE);

    // Purged: 404.
    let other = link(&client, json!({ "file_id": file })).await;
    client
        .delete(&format!("/gdpr/files/{file}"))
        .await
        .expect(200);
    wait_for_status(&app, &other, &[], StatusCode::NOT_FOUND).await;
}

/// How many link lookups the files server has sent to the database so far.
pub(super) async fn link_lookups(app: &TestApp) -> String {
    let text = fetch(app, Method::GET, &format!("{}/metrics", app.files_url), &[])
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("fluidcloud_link_cache_misses_total "))
        .expect("the files server reports its link cache")
        .to_owned()
}

/// Polls until the link answers `status` (within a second, the revocation budget).
pub(super) async fn wait_for_status(
    app: &TestApp,
    url: &str,
    headers: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let started = Instant::now();
    loop {
        let reply = fetch(app, Method::GET, url, headers).await;
        if reply.status() == status {
            return reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{url} answered {} instead of {status} after 1 s",
            reply.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn random_ranges_match_the_source_byte_for_byte() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    // One object small enough for the memory cache, one streamed from the store.
    for size in [300_000usize, 3 * 1024 * 1024 + 7] {
        let data = bytes(size, size as u64);
        let file = clean(&client, "r.bin", "application/octet-stream", &data).await;
        let url = link(&client, json!({ "file_id": file })).await;
        let mut seed = size as u64;
        for _ in 0..40 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let a = (seed >> 17) as usize % size;
            let b = a + (seed >> 40) as usize % (size - a);
            let (spec, first, last) = match seed % 3 {
                0 => (format!("bytes={a}-{b}"), a, b),
                1 => (format!("bytes={a}-"), a, size - 1),
                _ => {
                    let n = size - a;
                    (format!("bytes=-{n}"), size - n, size - 1)
                }
            };
            let reply = fetch(&app, Method::GET, &url, &[("range", &spec)]).await;
            assert_eq!(reply.status(), StatusCode::PARTIAL_CONTENT, "{spec}");
            assert_eq!(
                header(&reply, "content-range"),
                format!("bytes {first}-{last}/{size}")
            );
            assert_eq!(
                header(&reply, "content-length"),
                (last - first + 1).to_string()
            );
            let body = reply.bytes().await.unwrap();
            assert!(body.as_ref() == &data[first..=last], "{spec}: bytes differ");
        }
        // If-Range: the same entity tag allows the range; another sends everything.
        let etag = header(&fetch(&app, Method::HEAD, &url, &[]).await, "etag").to_owned();
        let same = fetch(
            &app,
            Method::GET,
            &url,
            &[("range", "bytes=0-9"), ("if-range", &etag)],
        )
        .await;
        assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT);
        let changed = fetch(
            &app,
            Method::GET,
            &url,
            &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
        )
        .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(changed.bytes().await.unwrap().len(), size);
    }
}

#[tokio::test]
async fn validators_odd_ranges_names_and_empty_files_over_http() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let file = clean(&client, "résumé \"final\".txt", "text/plain", b"0123456789").await;
    let url = link(&client, json!({ "file_id": file })).await;
    let ok = fetch(&app, Method::GET, &url, &[]).await;
    assert_eq!(
        header(&ok, "content-disposition"),
        "inline; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt"
    );
    let (etag, modified) = (
        header(&ok, "etag").to_owned(),
        header(&ok, "last-modified").to_owned(),
    );

    // If-None-Match: lists, weak comparison and `*` all match; another tag does not.
    for matching in [
        format!("\"x\", {etag}"),
        format!("W/{etag}"),
        "*".to_owned(),
    ] {
        let reply = fetch(&app, Method::GET, &url, &[("if-none-match", &matching)]).await;
        assert_eq!(reply.status(), StatusCode::NOT_MODIFIED, "{matching}");
    }
    let other = fetch(&app, Method::GET, &url, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(other.status(), StatusCode::OK);

    // If-Range with a date: ours allows the range, any other sends everything.
    let dated = fetch(
        &app,
        Method::GET,
        &url,
        &[("range", "bytes=2-3"), ("if-range", &modified)],
    )
    .await;
    assert_eq!(dated.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(dated.bytes().await.unwrap().as_ref(), b"23");
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    let stale = fetch(
        &app,
        Method::GET,
        &url,
        &[("range", "bytes=2-3"), ("if-range", old)],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK);

    // Ranges we do not honour get the whole file; the unit is case-insensitive.
    for ignored in ["bytes=0-1,4-5", "bytes=x-", "bytes=+1-2", "lines=0-1"] {
        let reply = fetch(&app, Method::GET, &url, &[("range", ignored)]).await;
        assert_eq!(reply.status(), StatusCode::OK, "{ignored}");
        assert_eq!(reply.bytes().await.unwrap().as_ref(), b"0123456789");
    }
    let upper = fetch(&app, Method::GET, &url, &[("range", "Bytes=8-")]).await;
    assert_eq!(upper.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(upper.bytes().await.unwrap().as_ref(), b"89");
    let unsatisfiable = fetch(&app, Method::GET, &url, &[("range", "bytes=10-")]).await;
    assert_eq!(unsatisfiable.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        names(&unsatisfiable),
        expected(&["content-type", "content-length", "content-range"])
    );
    assert_eq!(header(&unsatisfiable, "content-range"), "bytes */10");

    // An empty file: 200 with no bytes, and no range of it exists.
    let empty = clean(&client, "empty.txt", "text/plain", b"").await;
    let url = link(&client, json!({ "file_id": empty })).await;
    let whole = fetch(&app, Method::GET, &url, &[]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(header(&whole, "content-length"), "0");
    assert!(whole.bytes().await.unwrap().is_empty());
    let range = fetch(&app, Method::GET, &url, &[("range", "bytes=0-0")]).await;
    assert_eq!(range.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&range, "content-range"), "bytes */0");
}

mod access;
mod lifecycle;
