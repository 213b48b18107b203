//! Leniency where the hosted FastAPI/pydantic server is lenient (SPEC §3): query
//! booleans in every spelling, integers as numeric strings, trailing slashes, and
//! `POST /uploads` — each with the input that must still be refused, always 422 in the
//! error envelope.

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::{ApiClient, Reply, send};
use serde_json::{Value, json};

/// A 422 in the envelope whose detail names `field`.
#[track_caller]
fn refused(reply: Reply, field: &str, input: &str) {
    assert_eq!(reply.status.as_u16(), 422, "{input}: {}", reply.text);
    let detail = reply.detail().as_str().unwrap_or_default();
    assert!(
        detail.starts_with(&format!("{field}: ")),
        "{input}: {detail}"
    );
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.header("x-request-id"),
        "{input}"
    );
}

fn names(reply: &Reply) -> Vec<String> {
    reply
        .body
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.text))
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn query_booleans_take_every_spelling_in_any_case() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    client.create_folder(space, None, "live").await.expect(201);
    let trashed = client
        .create_folder(space, None, "gone")
        .await
        .expect(201)
        .id();
    client.trash_folder(trashed).await.expect(200);

    for yes in ["true", "True", "TRUE", "1", "yes", "Yes", "on", "ON"] {
        let reply = client
            .list_folders(&format!("space_id={space}&trash={yes}"))
            .await
            .expect(200);
        assert_eq!(names(&reply), ["gone"], "trash={yes}");
    }
    for no in ["false", "False", "0", "no", "NO", "off", "Off"] {
        let reply = client
            .list_folders(&format!("space_id={space}&trash={no}"))
            .await
            .expect(200);
        assert_eq!(names(&reply), ["live"], "trash={no}");
    }
    for bad in ["maybe", "2", "", "t", "-1", "true1"] {
        let reply = client
            .list_folders(&format!("space_id={space}&trash={bad}"))
            .await;
        refused(reply, "trash", bad);
    }

    // The other boolean parameters read the same way.
    let busy = client.create_space("busy").await.expect(201).id();
    client.create_folder(busy, None, "f").await.expect(201);
    client
        .delete(&format!("/spaces/{busy}?purge=Off"))
        .await
        .expect(409);
    refused(
        client.delete(&format!("/spaces/{busy}?purge=nope")).await,
        "purge",
        "nope",
    );
    let purged = client
        .delete(&format!("/spaces/{busy}?purge=Yes"))
        .await
        .expect(202);
    assert_eq!(purged.body["status"], "deleting");
    client
        .get(&format!("/files?space_id={space}&recursive=On&trash=No"))
        .await
        .expect(200);
    client.get("/shares?include_inactive=YES").await.expect(200);
    refused(
        client.get("/shares?include_inactive=si").await,
        "include_inactive",
        "si",
    );
}

/// The initiate body with `size` as given.
fn initiate_body(space: &str, size: Value) -> Value {
    json!({ "original_name": "n.txt", "content_type": "text/plain", "size": size, "space_id": space })
}

#[tokio::test]
async fn integer_fields_take_numeric_strings_and_whole_numbers() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let bytes = b"five!".to_vec();
    let uploaded = client
        .upload_with(space, "five.txt", "text/plain", &bytes, |body| {
            body["size"] = json!("5");
        })
        .await;
    let file = uploaded.file.expect(201);
    assert_eq!(file.body["size"], 5);
    assert_eq!(file.body["scan_status"], "clean");

    // The ticket from a string size is the ticket from the number.
    let ticket = client
        .post(
            "/uploads/initiate",
            &initiate_body(&space.to_string(), json!(" 7 ")),
        )
        .await
        .expect(200);
    assert_eq!(ticket.body["mode"], "single");
    let ticket = client
        .post(
            "/uploads/initiate",
            &initiate_body(&space.to_string(), json!(7.0)),
        )
        .await
        .expect(200);
    assert_eq!(ticket.body["mode"], "single");

    let share = client
        .post(
            "/shares",
            &json!({ "file_id": file.body["id"], "expires_in_days": "7", "max_downloads": "+3" }),
        )
        .await
        .expect(201);
    assert_eq!(share.body["max_downloads"], 3);
    let expires: chrono::DateTime<chrono::Utc> =
        share.body["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "expires in {days} hours");

    for name in ["a", "b", "c"] {
        client.create_space(name).await.expect(201);
    }
    let page = client.get("/spaces?limit=2").await.expect(200);
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    assert!(page.header("x-next-cursor").is_some());
}

#[tokio::test]
async fn integer_fields_refuse_fractions_words_booleans_and_overflows() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await.to_string();
    let quota_before = client.get("/quota").await.expect(200).body;
    for size in [
        json!("5.5"),
        json!(5.5),
        json!("5.0"),
        json!("abc"),
        json!(""),
        json!("1e3"),
        json!(true),
        json!("true"),
        json!(-1),
        json!("-1"),
        json!("18446744073709551616"),
        json!(1e20),
        json!([5]),
        json!({ "value": 5 }),
    ] {
        let reply = client
            .post("/uploads/initiate", &initiate_body(&space, size.clone()))
            .await;
        refused(reply, "size", &size.to_string());
    }
    // 2^64 as a JSON number (json! cannot build it): sent as text.
    let overflow = format!(
        r#"{{"original_name": "n", "content_type": "text/plain", "size": 18446744073709551616, "space_id": "{space}"}}"#
    );
    let reply = send(
        app.http
            .post(format!("{}/api/v1/uploads/initiate", app.base_url))
            .header("X-API-Key", &client.key)
            .header("content-type", "application/json")
            .body(overflow),
    )
    .await;
    refused(reply, "size", "2^64");
    assert_eq!(
        client.get("/quota").await.body,
        quota_before,
        "nothing reserved"
    );

    let space = client.default_space().await;
    let file = client.upload(space, "f.txt", "text/plain", b"f").await;
    for (field, value) in [
        ("expires_in_days", json!("1.5")),
        ("expires_in_days", json!(false)),
        ("expires_in_days", json!("seven")),
        ("expires_in_days", json!("9223372036854775808")),
        ("max_downloads", json!(true)),
        ("max_downloads", json!(2.5)),
    ] {
        let mut body = json!({ "file_id": file["id"] });
        body[field] = value.clone();
        refused(
            client.post("/shares", &body).await,
            field,
            &value.to_string(),
        );
    }
    // In range for the type but not for the field: still the field's own check.
    let reply = client
        .post(
            "/shares",
            &json!({ "file_id": file["id"], "expires_in_days": "0" }),
        )
        .await;
    refused(reply, "expires_in_days", "0");

    for limit in ["5.5", "abc", "", "-1", "4294967296", "true"] {
        refused(
            client.get(&format!("/spaces?limit={limit}")).await,
            "limit",
            limit,
        );
    }
    // A number that fits the type but not the page bounds.
    refused(client.get("/spaces?limit=0").await, "limit", "0");
}

#[tokio::test]
async fn a_trailing_slash_redirects_to_the_route_keeping_method_and_body() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let not_following = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body = json!({ "name": "via slash" });
    let reply = send(
        not_following
            .post(format!("{}/api/v1/spaces/", app.base_url))
            .header("X-API-Key", &client.key)
            .json(&body),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 307, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("/api/v1/spaces"));
    assert!(reply.header("x-request-id").is_some());

    // A client following it repeats the POST with its body (reqwest does, as requests).
    let created = send(
        app.http
            .post(format!("{}/api/v1/spaces/", app.base_url))
            .header("X-API-Key", &client.key)
            .json(&body),
    )
    .await
    .expect(201);
    assert_eq!(created.body["name"], "via slash");
    let id = created.id();

    for (method, path, location) in [
        (
            reqwest::Method::GET,
            "/api/v1/spaces/?limit=1".to_owned(),
            "/api/v1/spaces?limit=1".to_owned(),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/spaces/{id}/"),
            format!("/api/v1/spaces/{id}"),
        ),
        (
            reqwest::Method::GET,
            "/api/v1/files/resolve/?client_key=k".to_owned(),
            "/api/v1/files/resolve?client_key=k".to_owned(),
        ),
        (
            reqwest::Method::GET,
            "/healthz/".to_owned(),
            "/healthz".to_owned(),
        ),
    ] {
        let reply =
            send(not_following.request(method.clone(), format!("{}{path}", app.base_url))).await;
        assert_eq!(reply.status.as_u16(), 307, "{method} {path}");
        assert_eq!(reply.header("location"), Some(location.as_str()), "{path}");
    }
    let renamed = send(
        app.http
            .patch(format!("{}/api/v1/spaces/{id}/", app.base_url))
            .header("X-API-Key", &client.key)
            .json(&json!({ "name": "renamed" })),
    )
    .await
    .expect(200);
    assert_eq!(renamed.body["name"], "renamed");

    // What is not a route with a slash added stays 404 in the envelope.
    for path in [
        "/api/v1/nothing/",
        "/api/v1/spaces//",
        "//example.com/",
        "/api/v1/",
    ] {
        let reply = send(not_following.get(format!("{}{path}", app.base_url))).await;
        assert_eq!(reply.status.as_u16(), 404, "{path}: {}", reply.text);
        assert_eq!(reply.body["detail"], "route not found", "{path}");
    }
}

#[tokio::test]
async fn post_uploads_is_initiate() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let body = initiate_body(&space.to_string(), json!(3));
    let ticket = client.post("/uploads", &body).await.expect(200);
    assert_eq!(ticket.body["mode"], "single");
    let status = client.put_single(&ticket.body, b"abc".to_vec()).await;
    assert!(status.is_success(), "{status}");
    let complete = ApiClient::completion(&ticket.body, space, "n.txt", "text/plain", b"abc");
    let file = client
        .post("/uploads/complete", &complete)
        .await
        .expect(201);
    assert_eq!(file.body["size"], 3);
    // Its refusals are initiate's.
    refused(
        client
            .post("/uploads", &initiate_body(&space.to_string(), json!("x")))
            .await,
        "size",
        "x",
    );
    client.get("/uploads").await.expect(405);
}
