//! `/folders`: trees, moves, the Trash, restore and statistics.

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};
use uuid::Uuid;

fn ids(reply: &Value) -> Vec<Uuid> {
    reply
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// root/
///   a/
///     b/
///       c/
///   d/
struct Tree {
    space: Uuid,
    a: Uuid,
    b: Uuid,
    c: Uuid,
    d: Uuid,
}

async fn tree(client: &ApiClient) -> Tree {
    let space = client.default_space().await;
    let a = client
        .create_folder(space, None, "a")
        .await
        .expect(201)
        .id();
    let b = client
        .create_folder(space, Some(a), "b")
        .await
        .expect(201)
        .id();
    let c = client
        .create_folder(space, Some(b), "c")
        .await
        .expect(201)
        .id();
    let d = client
        .create_folder(space, None, "d")
        .await
        .expect(201)
        .id();
    Tree { space, a, b, c, d }
}

#[tokio::test]
async fn folders_nest_and_list_by_parent() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    let root = client
        .list_folders(&format!("space_id={}", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&root.body), vec![t.a, t.d]);
    let under_a = client
        .list_folders(&format!("space_id={}&parent_id={}", t.space, t.a))
        .await
        .expect(200);
    assert_eq!(ids(&under_a.body), vec![t.b]);
    let folder = client.get(&format!("/folders/{}", t.b)).await.expect(200);
    assert_eq!(folder.body["parent_id"], t.a.to_string());
    assert_eq!(folder.body["space_id"], t.space.to_string());
    assert_eq!(folder.body["tenant_id"], client.tenant_id.to_string());
    assert_eq!(folder.body["deleted_at"], Value::Null);
    // Duplicate names are allowed.
    client.create_folder(t.space, None, "a").await.expect(201);
    // Explicit trash=false is the live listing.
    let live = client
        .list_folders(&format!("space_id={}&trash=false", t.space))
        .await
        .expect(200);
    assert_eq!(live.body.as_array().unwrap().len(), 3);
    let live = client
        .list_folders(&format!("space_id={}&trash=0", t.space))
        .await
        .expect(200);
    assert_eq!(live.body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_folder_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    let long = "x".repeat(256);
    for name in [
        "",
        "a/b",
        "a\\b",
        "nul\0",
        "tab\t",
        ".",
        "..",
        " lead",
        "trail ",
        long.as_str(),
    ] {
        let reply = client.create_folder(t.space, None, name).await;
        assert_eq!(reply.status.as_u16(), 400, "{name:?}: {}", reply.text);
        let reply = client.update_folder(t.a, &json!({ "name": name })).await;
        assert_eq!(reply.status.as_u16(), 400, "{name:?}: {}", reply.text);
    }
    client
        .create_folder(t.space, Some(Uuid::new_v4()), "x")
        .await
        .expect(404);
    client
        .create_folder(Uuid::new_v4(), None, "x")
        .await
        .expect(404);
    client
        .post("/folders", &json!({ "name": "x", "space_id": "nope" }))
        .await
        .expect(422);
    client
        .post("/folders", &json!({ "name": "x" }))
        .await
        .expect(422);
    client
        .post("/folders", &json!({ "name": ["x"], "space_id": t.space }))
        .await
        .expect(422);
    client.list_folders("").await.expect(422);
    client.list_folders("space_id=abc").await.expect(422);
    client
        .list_folders(&format!("space_id={}&trash=maybe", t.space))
        .await
        .expect(422);
    client
        .list_folders(&format!(
            "space_id={}&parent_id={}",
            t.space,
            Uuid::new_v4()
        ))
        .await
        .expect(404);
    client.get("/folders/123").await.expect(422);
    client
        .get(&format!("/folders/{}", Uuid::new_v4()))
        .await
        .expect(404);

    let root = client
        .list_folders(&format!("space_id={}", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&root.body), vec![t.a, t.d]);
    assert_eq!(
        client.get(&format!("/folders/{}", t.a)).await.body["name"],
        "a"
    );
}

#[tokio::test]
async fn moves_refuse_cycles_and_other_spaces() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    for target in [t.a, t.b, t.c] {
        let reply = client
            .update_folder(t.a, &json!({ "parent_id": target }))
            .await
            .expect(400);
        assert!(
            reply.detail().as_str().unwrap().contains("descendant"),
            "{}",
            reply.text
        );
    }
    let other_space = client.create_space("other").await.expect(201).id();
    let elsewhere = client
        .create_folder(other_space, None, "elsewhere")
        .await
        .expect(201)
        .id();
    client
        .update_folder(t.a, &json!({ "parent_id": elsewhere }))
        .await
        .expect(400);
    client
        .create_folder(t.space, Some(elsewhere), "x")
        .await
        .expect(400);
    // The tree is unchanged.
    assert_eq!(
        client.get(&format!("/folders/{}", t.a)).await.body["parent_id"],
        Value::Null
    );

    // Legal moves: c up to the root (explicit null), d under c, and rename + move at once.
    let moved = client
        .update_folder(t.c, &json!({ "parent_id": null }))
        .await
        .expect(200);
    assert_eq!(moved.body["parent_id"], Value::Null);
    let moved = client
        .update_folder(t.d, &json!({ "parent_id": t.c, "name": "d2" }))
        .await
        .expect(200);
    assert_eq!(moved.body["parent_id"], t.c.to_string());
    assert_eq!(moved.body["name"], "d2");
    // Absent fields are left alone.
    let renamed = client
        .update_folder(t.d, &json!({ "name": "d3" }))
        .await
        .expect(200);
    assert_eq!(renamed.body["parent_id"], t.c.to_string());
    let same = client.update_folder(t.d, &json!({})).await.expect(200);
    assert_eq!(same.body["name"], "d3");
    // Now c is d's ancestor, so c cannot go under d.
    client
        .update_folder(t.c, &json!({ "parent_id": t.d }))
        .await
        .expect(400);
}

#[tokio::test]
async fn concurrent_crossing_moves_never_build_a_cycle() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    for _ in 0..5 {
        let x = client
            .create_folder(space, None, "x")
            .await
            .expect(201)
            .id();
        let y = client
            .create_folder(space, None, "y")
            .await
            .expect(201)
            .id();
        let (x_under_y, y_under_x) = (json!({ "parent_id": y }), json!({ "parent_id": x }));
        let (first, second) = tokio::join!(
            client.update_folder(x, &x_under_y),
            client.update_folder(y, &y_under_x)
        );
        let statuses = [first.status.as_u16(), second.status.as_u16()];
        assert!(statuses.contains(&200), "{statuses:?}");
        assert!(
            statuses.contains(&400),
            "both moves succeeded: a cycle {statuses:?}"
        );
    }
}

#[tokio::test]
async fn trash_is_recursive_and_restore_brings_back_exactly_that() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    // c was trashed on its own before a's delete.
    client.trash_folder(t.c).await.expect(200);
    let trashed = client.trash_folder(t.a).await.expect(200);
    assert!(trashed.body["deleted_at"].is_string());
    // Deleting again changes nothing.
    let again = client.trash_folder(t.a).await.expect(200);
    assert_eq!(again.body["deleted_at"], trashed.body["deleted_at"]);

    let root = client
        .list_folders(&format!("space_id={}", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&root.body), vec![t.d]);
    let trash = client
        .list_folders(&format!("space_id={}&trash=true", t.space))
        .await
        .expect(200);
    let mut in_trash = ids(&trash.body);
    in_trash.sort();
    let mut expected = vec![t.a, t.b, t.c];
    expected.sort();
    assert_eq!(in_trash, expected);
    // A trashed folder can be read but not changed, nor used as a parent.
    client.get(&format!("/folders/{}", t.b)).await.expect(200);
    client
        .update_folder(t.b, &json!({ "name": "z" }))
        .await
        .expect(409);
    client
        .create_folder(t.space, Some(t.b), "x")
        .await
        .expect(404);
    client
        .update_folder(t.d, &json!({ "parent_id": t.b }))
        .await
        .expect(404);

    let restored = client.restore_folder(t.a).await.expect(200);
    assert_eq!(restored.body["deleted_at"], Value::Null);
    let under_a = client
        .list_folders(&format!("space_id={}&parent_id={}", t.space, t.a))
        .await
        .expect(200);
    assert_eq!(ids(&under_a.body), vec![t.b]);
    // c went to the Trash by its own delete, so it stays there.
    let trash = client
        .list_folders(&format!("space_id={}&trash=1", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&trash.body), vec![t.c]);
    // Restoring a live folder changes nothing.
    client.restore_folder(t.a).await.expect(200);
}

#[tokio::test]
async fn a_folder_restored_from_a_trashed_parent_lands_at_the_root() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    client.trash_folder(t.a).await.expect(200);
    // b was trashed by a's delete; restoring b alone brings b and c back, to the root.
    let restored = client.restore_folder(t.b).await.expect(200);
    assert_eq!(restored.body["parent_id"], Value::Null);
    let root = client
        .list_folders(&format!("space_id={}", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&root.body), vec![t.b, t.d]);
    let under_b = client
        .list_folders(&format!("space_id={}&parent_id={}", t.space, t.b))
        .await
        .expect(200);
    assert_eq!(ids(&under_b.body), vec![t.c]);
    let trash = client
        .list_folders(&format!("space_id={}&trash=true", t.space))
        .await
        .expect(200);
    assert_eq!(ids(&trash.body), vec![t.a]);
}

#[tokio::test]
async fn stats_count_the_live_subtree() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let t = tree(&client).await;
    let stats = client.folder_stats(t.a).await.expect(200);
    assert_eq!(
        stats.body,
        json!({ "folder_id": t.a, "file_count": 0, "folder_count": 2, "total_bytes": 0 })
    );
    client.trash_folder(t.c).await.expect(200);
    let stats = client.folder_stats(t.a).await.expect(200);
    assert_eq!(stats.body["folder_count"], 1);
    let stats = client.folder_stats(t.d).await.expect(200);
    assert_eq!(stats.body["folder_count"], 0);
    client.folder_stats(Uuid::new_v4()).await.expect(404);
}

#[tokio::test]
async fn folder_lists_page_with_a_cursor() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            client
                .create_folder(space, None, &format!("f{i}"))
                .await
                .expect(201)
                .id(),
        );
    }
    let first = client
        .list_folders(&format!("space_id={space}&limit=2"))
        .await
        .expect(200);
    assert_eq!(ids(&first.body), created[..2]);
    let cursor = first.header("x-next-cursor").unwrap().to_owned();
    let second = client
        .list_folders(&format!("space_id={space}&limit=2&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(ids(&second.body), created[2..4]);
}
