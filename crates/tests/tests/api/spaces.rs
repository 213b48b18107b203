//! `/spaces`.

use fluidcloud_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_new_tenant_lists_its_default_space_once() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    // Concurrent first calls must not create two default spaces.
    let replies = futures_util::future::join_all((0..8).map(|_| client.list_spaces())).await;
    for reply in &replies {
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    }
    let spaces = client.list_spaces().await.expect(200);
    let spaces = spaces.body.as_array().unwrap();
    assert_eq!(spaces.len(), 1, "{spaces:?}");
    assert_eq!(spaces[0]["name"], "My files");
    assert_eq!(spaces[0]["tenant_id"], client.tenant_id.to_string());
    assert_eq!(spaces[0]["app"], "fluidcloud");
    for field in ["created_at", "updated_at"] {
        assert!(
            spaces[0][field].as_str().unwrap().ends_with('Z'),
            "{field} is ISO-8601 UTC with Z"
        );
    }
}

#[tokio::test]
async fn spaces_are_created_renamed_and_listed_oldest_first() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let first = client.create_space("Brand / Assets").await.expect(201);
    assert_eq!(first.body["name"], "Brand / Assets");
    let second = client
        .post("/spaces", &json!({ "name": "Talk", "app": "fluidtalk" }))
        .await
        .expect(201);
    assert_eq!(second.body["app"], "fluidtalk");

    let renamed = client
        .patch(
            &format!("/spaces/{}", first.id()),
            &json!({ "name": "Brand" }),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Brand");
    assert_eq!(renamed.body["created_at"], first.body["created_at"]);

    let list = client.list_spaces().await.expect(200);
    let names: Vec<_> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Brand"), json!("Talk")]);
}

#[tokio::test]
async fn bad_space_names_are_400_and_create_nothing() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.create_space("keep").await.expect(201).id();
    for name in [
        "",
        " padded",
        "padded ",
        "line\nbreak",
        "nul\0",
        &"x".repeat(201),
    ] {
        let reply = client.create_space(name).await;
        assert_eq!(reply.status.as_u16(), 400, "{name:?}: {}", reply.text);
        let reply = client
            .patch(&format!("/spaces/{space}"), &json!({ "name": name }))
            .await;
        assert_eq!(reply.status.as_u16(), 400, "{name:?}: {}", reply.text);
    }
    for app_name in ["", "has space", "ünï"] {
        client
            .post("/spaces", &json!({ "name": "x", "app": app_name }))
            .await
            .expect(400);
    }
    client
        .post("/spaces", &json!({ "name": 7 }))
        .await
        .expect(422);
    client
        .patch(&format!("/spaces/{space}"), &json!({}))
        .await
        .expect(422);
    let list = client.list_spaces().await.expect(200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["name"], "keep");
}

#[tokio::test]
async fn only_empty_spaces_can_be_deleted() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let empty = client.create_space("empty").await.expect(201).id();
    let reply = client.delete(&format!("/spaces/{empty}")).await.expect(200);
    assert_eq!(reply.body, json!({ "id": empty, "status": "deleted" }));
    client.delete(&format!("/spaces/{empty}")).await.expect(404);

    let busy = client.create_space("busy").await.expect(201).id();
    let folder = client.create_folder(busy, None, "f").await.expect(201).id();
    client.delete(&format!("/spaces/{busy}")).await.expect(409);
    // A folder in the Trash still counts.
    client.trash_folder(folder).await.expect(200);
    let reply = client.delete(&format!("/spaces/{busy}")).await.expect(409);
    assert!(reply.detail().as_str().unwrap().contains("not empty"));
    client.get(&format!("/folders/{folder}")).await.expect(200);

    client
        .delete(&format!("/spaces/{}", Uuid::new_v4()))
        .await
        .expect(404);
    client.delete("/spaces/not-a-uuid").await.expect(422);
}

#[tokio::test]
async fn lists_page_with_a_cursor() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(client.create_space(&format!("s{i}")).await.expect(201).id());
    }
    let mut seen = Vec::new();
    let mut path = "/spaces?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = client.get(&path).await.expect(200);
        pages += 1;
        let items = page.body.as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|s| s["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
        match page.header("x-next-cursor") {
            Some(cursor) => path = format!("/spaces?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    // Exactly one page's worth: no cursor.
    let all = client.get("/spaces?limit=7").await.expect(200);
    assert!(all.header("x-next-cursor").is_none());
    // Without a limit, everything and no cursor.
    let all = client.get("/spaces").await.expect(200);
    assert_eq!(all.body.as_array().unwrap().len(), 7);
    assert!(all.header("x-next-cursor").is_none());

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "cursor=garbage",
        "limit=-1",
    ] {
        let reply = client.get(&format!("/spaces?{bad}")).await;
        assert_eq!(reply.status.as_u16(), 422, "{bad}: {}", reply.text);
    }
}
