//! Authentication, the plan gate, the error envelope and request ids.

use std::time::{Duration, Instant};

use fluidcloud_core::model::Plan;
use fluidcloud_db::TenantUpdate;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::{Reply, send};
use serde_json::json;

/// Polls `check` until it holds or `limit` passes; returns how long it took.
async fn within(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn assert_envelope(reply: &Reply) {
    let request_id = reply
        .header("x-request-id")
        .expect("X-Request-Id on every response");
    assert_eq!(reply.body["request_id"], request_id, "{}", reply.text);
    assert!(!reply.body["detail"].is_null(), "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_in_the_envelope() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let url = format!("{}/api/v1/spaces", app.base_url);
    let secret = "a".repeat(40);
    let cases = [
        ("no key", app.http.get(&url)),
        ("empty key", app.http.get(&url).header("X-API-Key", "")),
        (
            "wrong prefix",
            app.http
                .get(&url)
                .header("X-API-Key", format!("fck_prod_{secret}")),
        ),
        (
            "foreign format",
            app.http
                .get(&url)
                .header("X-API-Key", format!("sk_live_{secret}")),
        ),
        (
            "short secret",
            app.http.get(&url).header("X-API-Key", "fck_live_abc"),
        ),
        (
            "unknown key",
            app.http
                .get(&url)
                .header("X-API-Key", format!("fck_live_{secret}")),
        ),
        (
            "basic auth",
            app.http
                .get(&url)
                .header("Authorization", format!("Basic {}", client.key)),
        ),
        (
            "bearer without key",
            app.http.get(&url).header("Authorization", "Bearer"),
        ),
        (
            "key with a suffix",
            app.http
                .get(&url)
                .header("X-API-Key", format!("{}x!", client.key)),
        ),
    ];
    for (case, request) in cases {
        let reply = send(request).await;
        assert_eq!(reply.status.as_u16(), 401, "{case}: {}", reply.text);
        assert!(reply.detail().is_string(), "{case}");
        assert_envelope(&reply);
    }
}

#[tokio::test]
async fn x_api_key_and_bearer_are_equivalent() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let url = format!("{}/api/v1/me", app.base_url);
    let by_header = send(app.http.get(&url).header("X-API-Key", &client.key))
        .await
        .expect(200);
    let by_bearer = send(app.http.get(&url).bearer_auth(&client.key))
        .await
        .expect(200);
    assert_eq!(by_header.body, by_bearer.body);
    assert_eq!(by_header.body["tenant_id"], client.tenant_id.to_string());
    assert_eq!(by_header.body["key"]["id"], client.key_id.to_string());
    assert_eq!(by_header.body["key"]["mode"], "live");
    assert_eq!(by_header.body["key"]["scopes"].as_array().unwrap().len(), 9);
    assert!(
        client
            .key
            .starts_with(by_header.body["key"]["prefix"].as_str().unwrap())
    );
    assert_eq!(
        by_header.body["plan"],
        json!({
            "api_access": true, "bytes_limit": -1, "links_limit": -1, "max_file_size": -1,
            "rate_limits": {
                "requests_per_minute": 600, "shares_per_minute": 120,
                "initiates_per_minute": 300, "imports_per_minute": 30,
            },
        })
    );
    assert_eq!(by_header.body["rate_limit_window_secs"], 60);
    // The plaintext never comes back.
    assert!(!by_header.text.contains(&client.key));
}

#[tokio::test]
async fn request_ids_are_echoed_when_plain_and_generated_otherwise() {
    let app = TestApp::spawn().await;
    let url = format!("{}/healthz", app.base_url);
    let echoed = send(app.http.get(&url).header("X-Request-Id", "trace-42"))
        .await
        .expect(200);
    assert_eq!(echoed.header("x-request-id"), Some("trace-42"));
    let replaced = send(
        app.http
            .get(&url)
            .header("X-Request-Id", "bad id with spaces"),
    )
    .await
    .expect(200);
    let generated = replaced.header("x-request-id").unwrap();
    assert_ne!(generated, "bad id with spaces");
    assert!(!generated.is_empty());
    let unknown = send(app.http.get(format!("{}/nowhere", app.base_url)))
        .await
        .expect(404);
    assert_envelope(&unknown);
}

#[tokio::test]
async fn a_tenant_without_api_access_is_refused_after_authentication() {
    let app = TestApp::spawn().await;
    let plan = Plan {
        api_access: false,
        ..Plan::unlimited()
    };
    let client = app.tenant_with_plan(plan).await;
    for path in ["/me", "/spaces"] {
        let reply = client.get(path).await.expect(403);
        assert_eq!(reply.detail()["error"], "feature_not_in_plan");
        assert_envelope(&reply);
    }
    // Authentication still comes first: a bad key is 401, not 403.
    let mut stranger = client.clone();
    stranger.key = format!("fck_live_{}", "b".repeat(40));
    stranger.get("/spaces").await.expect(401);
}

#[tokio::test]
async fn switching_api_access_off_reaches_a_cached_key_within_a_second() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    client.get("/spaces").await.expect(200);
    client.get("/spaces").await.expect(200); // served from the cache now
    app.store
        .update_tenant(
            client.tenant_id,
            &TenantUpdate {
                api_access: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let took = within(Duration::from_secs(1), async || {
        client.get("/spaces").await.status == 403
    })
    .await;
    assert!(
        took.is_some(),
        "API access switched off but the key was still accepted after 1 s"
    );
    let reply = client.get("/me").await.expect(403);
    assert_eq!(reply.detail()["error"], "feature_not_in_plan");

    app.store
        .update_tenant(
            client.tenant_id,
            &TenantUpdate {
                api_access: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let took = within(Duration::from_secs(1), async || {
        client.get("/spaces").await.status == 200
    })
    .await;
    assert!(
        took.is_some(),
        "API access switched back on but still refused after 1 s"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_instance_within_a_second() {
    let app = TestApp::spawn().await;
    let second_url = app.another_api().await;
    let client = app.tenant().await;
    let other_instance = app.client_at(&client, &second_url);
    // Warm both caches.
    for _ in 0..2 {
        client.get("/me").await.expect(200);
        other_instance.get("/me").await.expect(200);
    }
    app.store.revoke_api_key(client.key_id).await.unwrap();
    for instance in [&client, &other_instance] {
        let took = within(Duration::from_secs(1), async || {
            instance.get("/me").await.status == 401
        })
        .await;
        assert!(
            took.is_some(),
            "{} still accepted a revoked key after 1 s",
            instance.base_url
        );
    }
    let reply = client.get("/spaces").await.expect(401);
    assert_envelope(&reply);
    // Revoking again is harmless and the key stays revoked.
    let key = app.store.revoke_api_key(client.key_id).await.unwrap();
    assert!(key.revoked_at.is_some());
}

#[tokio::test]
async fn a_key_minted_after_a_cached_miss_works_at_once() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    // Whatever was cached before, a new key must authenticate on its first request.
    let fresh = app
        .key_for(client.tenant_id, fluidcloud_core::scope::Scopes::all())
        .await;
    fresh.get("/me").await.expect(200);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_without_writing() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let url = format!("{}/api/v1/spaces", app.base_url);
    let huge = format!(
        "{{\"name\": \"x\", \"pad\": \"{}\"}}",
        "a".repeat(1024 * 1024)
    );
    let reply = send(
        app.http
            .post(&url)
            .header("X-API-Key", &client.key)
            .body(huge),
    )
    .await
    .expect(413);
    assert_envelope(&reply);

    let cases = [
        ("{\"name\": ", "malformed JSON"),
        ("[1, 2]", "body"),
        ("{\"name\": 5}", "name"),
        ("{}", "name"),
        ("", "malformed JSON"),
        ("{\"name\": \"ok\"} trailing", "malformed JSON"),
    ];
    for (body, mentions) in cases {
        let reply = send(
            app.http
                .post(&url)
                .header("X-API-Key", &client.key)
                .body(body),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 422, "{body:?}: {}", reply.text);
        assert!(
            reply.detail().as_str().unwrap().contains(mentions),
            "{body:?}: {}",
            reply.text
        );
        assert_envelope(&reply);
    }
    // Unknown fields are ignored.
    client
        .post("/spaces", &json!({ "name": "fine", "future_field": [1] }))
        .await
        .expect(201);
    let spaces = client.list_spaces().await.expect(200);
    assert_eq!(
        spaces.body.as_array().unwrap().len(),
        1,
        "only the valid request created a space"
    );
}

#[tokio::test]
async fn health_probes_answer_without_a_key() {
    let app = TestApp::spawn().await;
    send(app.http.get(format!("{}/healthz", app.base_url)))
        .await
        .expect(200);
    let ready = send(app.http.get(format!("{}/readyz", app.base_url)))
        .await
        .expect(200);
    assert_eq!(ready.body["database"], "ok");
}
