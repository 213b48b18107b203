//! Fields as the hosted service shows them (issue 12, item 2): the default space's
//! `app`, `sha256` before it is known, and the format of new API keys — with keys
//! issued in the earlier format still accepted.

use fluidcloud_core::scope::Scopes;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};
use sha2::Digest;

#[tokio::test]
async fn the_default_space_belongs_to_the_default_app_and_others_to_theirs() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let spaces = client.list_spaces().await.expect(200);
    assert_eq!(spaces.body[0]["name"], "My files");
    assert_eq!(spaces.body[0]["app"], "fluidcloud");
    let unnamed = client.create_space("Unnamed").await.expect(201);
    assert_eq!(
        unnamed.body["app"],
        Value::Null,
        "no app named, none stored"
    );
    let talk = client
        .post("/spaces", &json!({ "name": "Talk", "app": "fluidtalk" }))
        .await
        .expect(201);
    assert_eq!(talk.body["app"], "fluidtalk");
}

#[tokio::test]
async fn sha256_is_null_until_declared_or_computed() {
    // No inline scan and no worker yet: the file stays pending after complete.
    let app = TestApp::spawn_without_worker(|s| s.scan.inline_budget_secs = 0).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let bytes = b"no digest declared".to_vec();
    let file = client
        .upload_with(space, "a.txt", "text/plain", &bytes, |body| {
            body["sha256"] = Value::Null;
        })
        .await
        .file
        .expect(201);
    assert_eq!(file.body["scan_status"], "pending");
    assert_eq!(file.body["sha256"], Value::Null, "{}", file.text);
    let id = file.body["id"].as_str().unwrap().to_owned();
    let fetched = client.get(&format!("/files/{id}")).await.expect(200);
    assert_eq!(fetched.body["sha256"], Value::Null);
    let listed = client
        .get(&format!("/files?space_id={space}"))
        .await
        .expect(200);
    assert_eq!(listed.body[0]["sha256"], Value::Null);

    // A declared digest shows at once; the scan then fills in the unknown one.
    let declared = client
        .upload(space, "b.txt", "text/plain", b"declared")
        .await;
    assert_eq!(
        declared["sha256"],
        hex::encode(sha2::Sha256::digest(b"declared"))
    );
    app.start_worker();
    let scanned = client.wait_for_scan(&id).await;
    assert_eq!(scanned["scan_status"], "clean");
    assert_eq!(scanned["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
}

/// `fck_live_` or `fck_test_`, then 32 lowercase hex characters.
fn hosted_format(key: &str) -> bool {
    let Some(secret) = key
        .strip_prefix("fck_live_")
        .or_else(|| key.strip_prefix("fck_test_"))
    else {
        return false;
    };
    secret.len() == 32
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test]
async fn new_keys_have_the_hosted_format_and_earlier_keys_still_work() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    assert!(hosted_format(&client.key), "{}", client.key);
    let me = client.me().await.expect(200);
    assert!(
        client
            .key
            .starts_with(me.body["key"]["prefix"].as_str().unwrap()),
        "{}",
        me.text
    );

    // A key issued in the earlier format: 40 letters and digits of secret.
    let earlier = app.key_for(client.tenant_id, Scopes::all()).await;
    let plaintext = "fck_live_Ab3dEf7hIj1lMn0pQr5tUv9xYz2bCd4fGh6jKl8n";
    assert!(!hosted_format(plaintext));
    app.db.reissue_key(earlier.key_id, plaintext).await;
    let earlier = ApiClient {
        key: plaintext.to_owned(),
        ..earlier
    };
    let me = earlier.me().await.expect(200);
    assert_eq!(me.body["key"]["id"], earlier.key_id.to_string());
    earlier.list_spaces().await.expect(200);
    // The format alone lets no key in: one never issued is refused.
    let wrong = ApiClient {
        key: format!("fck_live_{}", "0".repeat(32)),
        ..earlier.clone()
    };
    wrong.me().await.expect(401);
}
