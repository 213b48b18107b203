//! CORS for browser clients: the API answers preflights on every route and exposes its
//! headers to the origins of `api.cors_allowed_origins` only (none by default), and the
//! embedded object store of `fluidcloud dev` lets those origins PUT to presigned URLs
//! and read the `ETag`.

use std::time::Duration;

use fluidcloud_core::cors::AllowedOrigins;
use fluidcloud_tests::{TestApp, TestObjects};
use reqwest::{Method, Response};

const PAGE: &str = "http://app.example:3000";
const OTHER: &str = "http://evil.example";

fn origins(list: &[&str]) -> AllowedOrigins {
    AllowedOrigins::try_from(list.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>()).unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A header's comma-separated values, lower-cased.
fn listed(response: &Response, name: &str) -> Vec<String> {
    header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_answers_preflights_and_exposes_its_headers_to_listed_origins() {
    let app =
        TestApp::spawn_with(|s| s.api.cors_allowed_origins = origins(&[PAGE, "https://b.example"]))
            .await;
    let client = app.tenant().await;
    let file = format!("{}/api/v1/files/{}", app.base_url, uuid::Uuid::new_v4());
    let spaces = format!("{}/api/v1/spaces", app.base_url);
    for (url, method) in [(&spaces, "POST"), (&file, "DELETE"), (&spaces, "GET")] {
        let answer = preflight(url, PAGE, method, "x-api-key, content-type").await;
        assert_eq!(answer.status(), 200, "{method} {url}");
        assert_eq!(header(&answer, "access-control-allow-origin"), Some(PAGE));
        assert!(
            listed(&answer, "access-control-allow-methods").contains(&method.to_ascii_lowercase())
        );
        let allowed_headers = listed(&answer, "access-control-allow-headers");
        for name in ["x-api-key", "content-type", "authorization"] {
            assert!(
                allowed_headers.iter().any(|h| h == name),
                "{name}: {allowed_headers:?}"
            );
        }
        assert!(header(&answer, "access-control-max-age").is_some());
        assert!(header(&answer, "x-request-id").is_some());
        assert!(header(&answer, "access-control-allow-credentials").is_none());
    }

    // The actual request: readable by the page, headers exposed, errors included.
    let exposed = [
        "x-next-cursor",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    ];
    client.create_space("one").await.expect(201);
    client.create_space("two").await.expect(201);
    let page = app
        .http
        .get(format!("{spaces}?limit=1"))
        .header("origin", PAGE)
        .header("x-api-key", &client.key)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "access-control-allow-origin"), Some(PAGE));
    assert!(header(&page, "x-next-cursor").is_some());
    let exposed_here = listed(&page, "access-control-expose-headers");
    for name in exposed {
        assert!(
            exposed_here.iter().any(|h| h == name),
            "{name}: {exposed_here:?}"
        );
    }
    let unauthorized = app
        .http
        .get(&spaces)
        .header("origin", "https://b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        header(&unauthorized, "access-control-allow-origin"),
        Some("https://b.example")
    );

    // Another origin gets no grant: the browser keeps the answer from its page.
    let refused = preflight(&spaces, OTHER, "POST", "x-api-key").await;
    assert!(header(&refused, "access-control-allow-origin").is_none());
    let actual = app
        .http
        .get(&spaces)
        .header("origin", OTHER)
        .header("x-api-key", &client.key)
        .send()
        .await
        .unwrap();
    assert_eq!(actual.status(), 200);
    assert!(header(&actual, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_origins_there_are_no_cors_headers_and_a_star_allows_all() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let spaces = format!("{}/api/v1/spaces", app.base_url);
    let answer = preflight(&spaces, PAGE, "GET", "x-api-key").await;
    assert_eq!(answer.status(), 405);
    assert!(header(&answer, "access-control-allow-origin").is_none());
    let actual = app
        .http
        .get(&spaces)
        .header("origin", PAGE)
        .header("x-api-key", &client.key)
        .send()
        .await
        .unwrap();
    assert_eq!(actual.status(), 200);
    assert!(
        actual
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-")),
        "{:?}",
        actual.headers()
    );

    let open = TestApp::spawn_with(|s| s.api.cors_allowed_origins = AllowedOrigins::Any).await;
    let spaces = format!("{}/api/v1/spaces", open.base_url);
    let answer = preflight(&spaces, OTHER, "POST", "authorization, content-type").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(header(&answer, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn the_embedded_store_lets_listed_origins_put_to_presigned_urls() {
    let objects = TestObjects::embedded(&origins(&[PAGE])).await;
    let body = b"from a browser".to_vec();
    let presigned = objects
        .store
        .presign_put(
            "t/cors/object",
            "text/plain",
            body.len() as u64,
            Duration::from_secs(60),
        )
        .await
        .unwrap();

    let answer = preflight(&presigned.url, PAGE, "PUT", "content-type").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(PAGE));
    assert!(listed(&answer, "access-control-allow-methods").contains(&"put".to_owned()));
    assert_eq!(
        listed(&answer, "access-control-allow-headers"),
        ["content-type"]
    );

    let put = |origin: &str| {
        let mut put = reqwest::Client::new()
            .put(&presigned.url)
            .header("origin", origin)
            .body(body.clone());
        for (name, value) in &presigned.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                put = put.header(name, value);
            }
        }
        put
    };
    let stored = put(PAGE).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(header(&stored, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(listed(&stored, "access-control-expose-headers"), ["etag"]);
    assert!(header(&stored, "etag").is_some());
    assert_eq!(
        objects
            .store
            .head("t/cors/object")
            .await
            .unwrap()
            .map(|h| h.size),
        Some(body.len() as u64)
    );

    // A refused signature still tells the page why.
    let (unsigned, signature) = presigned.url.split_once("X-Amz-Signature=").unwrap();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let tampered = format!("{unsigned}X-Amz-Signature={flipped}{}", &signature[1..]);
    let forbidden = reqwest::Client::new()
        .put(tampered)
        .header("origin", PAGE)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        header(&forbidden, "access-control-allow-origin"),
        Some(PAGE)
    );

    // Another origin, or a method no upload uses, gets 403 and no grant.
    for (origin, method) in [(OTHER, "PUT"), (PAGE, "PATCH")] {
        let refused = preflight(&presigned.url, origin, method, "content-type").await;
        assert_eq!(refused.status(), 403, "{origin} {method}");
        assert!(header(&refused, "access-control-allow-origin").is_none());
    }
    let elsewhere = put(OTHER).send().await.unwrap();
    assert!(header(&elsewhere, "access-control-allow-origin").is_none());
    // Caches must keep the two answers apart.
    for answer in [&stored, &elsewhere] {
        assert!(listed(answer, "vary").contains(&"origin".to_owned()));
    }
}

#[tokio::test]
async fn the_embedded_store_without_origins_refuses_preflights() {
    let objects = TestObjects::embedded(&AllowedOrigins::None).await;
    let presigned = objects
        .store
        .presign_put("t/cors/none", "text/plain", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let refused = preflight(&presigned.url, PAGE, "PUT", "content-type").await;
    assert_eq!(refused.status(), 403);
    assert!(header(&refused, "access-control-allow-origin").is_none());
}
