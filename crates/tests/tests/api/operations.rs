//! Operations: rescans with new signatures, Trash retention, reconciliation with the
//! bucket, metrics and readiness.

use std::time::{Duration, Instant};

use fluidcloud_db::RescanFilter;
use fluidcloud_db::jobs::JobKind;
use fluidcloud_services::ServiceContext;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::send;
use serde_json::{Value, json};

#[tokio::test]
async fn a_rescan_with_new_signatures_quarantines_what_they_match() {
    // The built-in scanner, whose signatures the test can change (also when the suite
    // otherwise runs on clamd).
    let app = TestApp::spawn_without_worker(|s| {
        s.scan.engine = fluidcloud_core::config::ScanEngine::Builtin;
    })
    .await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let suspect = client
        .upload(
            space,
            "s.bin",
            "application/octet-stream",
            b"xx NEWTHREAT yy",
        )
        .await;
    let harmless = client
        .upload(space, "h.txt", "text/plain", b"harmless")
        .await;
    assert_eq!(suspect["scan_status"], "clean");
    let url = client
        .post("/shares", &json!({ "file_id": suspect["id"] }))
        .await
        .expect(201)
        .body["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    let before = client.get("/quota").await.body["bytes_used"]
        .as_i64()
        .unwrap();

    // The operator adds a signature; the worker now scans with it.
    let signatures = app.db.dir.path().join("signatures.txt");
    std::fs::write(
        &signatures,
        format!("bytes {} New.Threat\n", hex::encode("NEWTHREAT")),
    )
    .unwrap();
    let mut settings = (*app.settings).clone();
    settings.scan.signatures_file = signatures.display().to_string();
    let updated =
        ServiceContext::from_settings(app.store.clone(), std::sync::Arc::new(settings.clone()))
            .unwrap();
    let version = updated.scanner.version().await.unwrap();
    assert_eq!(
        app.store
            .enqueue_rescans(&RescanFilter::NotScannedBy(version.clone()))
            .await
            .unwrap(),
        2
    );
    tokio::spawn(fluidcloud_worker::run(
        updated,
        settings.worker.clone(),
        Duration::from_secs(1),
        std::future::pending(),
    ));

    let suspect = client
        .wait_for(suspect["id"].as_str().unwrap(), |f| {
            f["scan_status"] == "infected"
        })
        .await;
    assert_eq!(suspect["status"], "quarantined");
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.http.get(&url).send().await.unwrap().status() != 404 {
        assert!(
            Instant::now() < deadline,
            "the infected file's link still serves"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = client.get("/quota").await.body["bytes_used"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before - 15, "the infected bytes no longer count");
    // The harmless file stays clean, now judged by the new signatures (once its own
    // rescan, which may still be running, is done).
    let harmless_rescan = JobKind::Rescan {
        file_id: harmless["id"].as_str().unwrap().parse().unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .store
        .job_state(&harmless_rescan)
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the harmless file's rescan never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let harmless = client
        .get(&format!("/files/{}", harmless["id"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(harmless["scan_status"], "clean");
    assert_eq!(
        app.store
            .enqueue_rescans(&RescanFilter::NotScannedBy(version))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_trash_is_purged_after_the_retention_period() {
    let app = TestApp::spawn_with(|s| s.trash.retention_days = 1).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let folder = client
        .create_folder(space, None, "old")
        .await
        .expect(201)
        .id();
    let inner = client
        .create_folder(space, Some(folder), "inner")
        .await
        .expect(201)
        .id();
    let old = client
        .upload(space, "old.txt", "text/plain", b"old bytes")
        .await;
    let recent = client
        .upload(space, "new.txt", "text/plain", b"recent")
        .await;
    client
        .delete(&format!("/files/{}", old["id"].as_str().unwrap()))
        .await
        .expect(200);
    client
        .delete(&format!("/files/{}", recent["id"].as_str().unwrap()))
        .await
        .expect(200);
    client.trash_folder(folder).await.expect(200);
    // Age what is meant to be old by two days.
    age_trash(&app, old["id"].as_str().unwrap(), &[folder, inner]).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .get(&format!("/files/{}", old["id"].as_str().unwrap()))
        .await
        .status
        != 404
    {
        assert!(Instant::now() < deadline, "the old file was never purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.get(&format!("/folders/{folder}")).await.expect(404);
    client.get(&format!("/folders/{inner}")).await.expect(404);
    let recent = client
        .get(&format!("/files/{}", recent["id"].as_str().unwrap()))
        .await
        .expect(200)
        .body;
    assert!(
        recent["deleted_at"].is_string(),
        "recently trashed files stay"
    );
    let quota = client.get("/quota").await.body;
    assert_eq!(quota["bytes_used"], 6);
    let recounted = app.store.recount_usage(client.tenant_id).await.unwrap();
    assert_eq!(quota, serde_json::to_value(&recounted).unwrap());
}

async fn age_trash(app: &TestApp, file: &str, folders: &[uuid::Uuid]) {
    use sqlx::Connection;
    let old = chrono::Utc::now() - chrono::TimeDelta::days(2);
    let file: uuid::Uuid = file.parse().unwrap();
    macro_rules! age {
        ($conn:expr) => {{
            sqlx::query("UPDATE files SET deleted_at = $1 WHERE id = $2")
                .bind(old)
                .bind(file)
                .execute(&mut $conn)
                .await
                .unwrap();
            for folder in folders {
                sqlx::query("UPDATE folders SET deleted_at = $1 WHERE id = $2")
                    .bind(old)
                    .bind(folder)
                    .execute(&mut $conn)
                    .await
                    .unwrap();
            }
        }};
    }
    if app.db.is_postgres() {
        let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
        age!(conn);
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
        age!(conn);
    }
}

/// An app with a bucket of its own: reconcile treats every object another test put in a
/// shared bucket as an orphan, and `--fix` would delete it under that test.
async fn app_with_its_own_bucket() -> TestApp {
    let bucket = format!(
        "fc-reconcile-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let app = TestApp::spawn_with(|s| s.storage.bucket = bucket).await;
    app.services.objects.ensure_bucket().await.unwrap();
    app
}

#[tokio::test]
async fn reconcile_reports_and_fixes_drift_between_rows_and_objects() {
    let app = app_with_its_own_bucket().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let kept = client
        .upload_with(space, "kept.txt", "text/plain", b"kept", |_| {})
        .await;
    let lost = client
        .upload_with(space, "lost.txt", "text/plain", b"lost", |_| {})
        .await;
    let lost_id = lost.file.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    kept.file.expect(201);
    let objects = &app.services.objects;
    // An object nobody refers to, and a file whose object vanished.
    let orphan = format!("t/{}/f/{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    objects
        .put(&orphan, "text/plain", b"orphan".to_vec().into(), 6)
        .await
        .unwrap();
    objects
        .delete(lost.ticket["key"].as_str().unwrap())
        .await
        .unwrap();

    let report = fluidcloud_services::reconcile::reconcile(&app.store, objects, false, false)
        .await
        .unwrap();
    let report = serde_json::to_value(&report).unwrap();
    assert!(
        report["objects_without_rows"]
            .as_array()
            .unwrap()
            .contains(&Value::String(orphan.clone()))
    );
    let missing: Vec<&str> = report["rows_without_objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["file_id"].as_str().unwrap())
        .collect();
    assert!(missing.contains(&lost_id.as_str()), "{report}");
    assert_eq!(report["fixed"], false);
    assert!(
        objects.head(&orphan).await.unwrap().is_some(),
        "a report changes nothing"
    );

    fluidcloud_services::reconcile::reconcile(&app.store, objects, true, false)
        .await
        .unwrap();
    assert_eq!(objects.head(&orphan).await.unwrap(), None);
    let lost = client
        .get(&format!("/files/{lost_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(lost["scan_status"], "failed");
    let clean = fluidcloud_services::reconcile::reconcile(&app.store, objects, false, false)
        .await
        .unwrap();
    assert!(!clean.objects_without_rows.contains(&orphan));
    // The row stays (now `failed`, out of service) and is still reported until purged.
    assert!(
        clean
            .rows_without_objects
            .iter()
            .any(|m| m.file.file_id.to_string() == lost_id)
    );

    // An infected file's bytes are erased on purpose: it never becomes `failed` (its
    // size would count again).
    let infected = client
        .upload(space, "eicar.txt", "text/plain", fluidcloud_scan::EICAR)
        .await;
    let infected = client.wait_for_scan(infected["id"].as_str().unwrap()).await;
    assert_eq!(infected["scan_status"], "infected");
    let id: uuid::Uuid = infected["id"].as_str().unwrap().parse().unwrap();
    app.store.mark_bytes_missing(id).await.unwrap();
    let after = client.get(&format!("/files/{id}")).await.expect(200).body;
    assert_eq!(after["scan_status"], "infected");
}

#[tokio::test]
async fn services_expose_metrics_and_readiness() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    client
        .upload(space, "m.txt", "text/plain", b"metrics")
        .await;
    let api = send(app.http.get(format!("{}/metrics", app.base_url)))
        .await
        .expect(200);
    assert!(api.text.contains("fluidcloud_http_requests_total{service=\"api\",route=\"/api/v1/uploads/initiate\",method=\"POST\",status=\"200\"} 1"), "{}", api.text);
    assert!(api.text.contains("fluidcloud_uploads_completed_total 1"));
    assert!(
        api.text
            .contains("fluidcloud_scans_total{verdict=\"clean\"} 1")
    );
    assert!(api.text.contains("fluidcloud_jobs_queue_depth"));
    assert!(api.text.contains("fluidcloud_key_cache_hits"));
    let files = send(app.http.get(format!("{}/metrics", app.files_url)))
        .await
        .expect(200);
    assert!(files.text.contains("fluidcloud_link_cache_hits"));
    assert!(files.text.contains("fluidcloud_object_cache_misses"));
    let ready = send(app.http.get(format!("{}/readyz", app.base_url)))
        .await
        .expect(200);
    assert_eq!(ready.body["object_store"], "ok");
    assert_eq!(
        send(app.http.get(format!("{}/readyz", app.files_url)))
            .await
            .status,
        200
    );
    let worker = fluidcloud_worker::health_router(app.services.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, worker).await });
    assert_eq!(
        send(app.http.get(format!("http://{addr}/readyz")))
            .await
            .status,
        200
    );
    let metrics = send(app.http.get(format!("http://{addr}/metrics")))
        .await
        .expect(200);
    assert!(metrics.text.contains("fluidcloud_jobs_queue_depth"));
}

#[tokio::test]
async fn reconcile_will_not_empty_a_bucket_that_looks_like_another_databases() {
    let app = app_with_its_own_bucket().await;
    let objects = &app.services.objects;
    // A bucket full of objects this database never heard of: a restored copy, or the
    // wrong database URL.
    let tenant = uuid::Uuid::new_v4();
    let mut foreign = Vec::new();
    for _ in 0..120 {
        let key = format!("t/{tenant}/f/{}", uuid::Uuid::new_v4());
        objects
            .put(&key, "text/plain", b"theirs".to_vec().into(), 6)
            .await
            .unwrap();
        foreign.push(key);
    }
    let refused = fluidcloud_services::reconcile::reconcile(&app.store, objects, true, false).await;
    let message = format!("{:#}", refused.expect_err("--fix alone refuses"));
    assert!(message.contains("--force"), "{message}");
    assert!(
        objects.head(&foreign[0]).await.unwrap().is_some(),
        "nothing deleted"
    );
    let report = fluidcloud_services::reconcile::reconcile(&app.store, objects, true, true)
        .await
        .unwrap();
    assert!(report.objects_without_rows.len() >= 120);
    assert_eq!(objects.head(&foreign[0]).await.unwrap(), None);
}

#[tokio::test]
async fn a_job_that_hangs_is_stopped_and_counted_as_a_failed_attempt() {
    // A clamd that accepts connections and never answers (a store that does so is
    // caught sooner, by the store's own timeouts; see store_outage.rs).
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("tcp://{}", black_hole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_without_worker(|s| {
        s.scan.engine = fluidcloud_core::config::ScanEngine::Clamd;
        s.scan.clamd_address = address;
        s.scan.timeout_secs = 600;
        s.scan.inline_budget_secs = 0;
        s.worker.job_timeout_secs = 1;
    })
    .await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .upload(space, "stuck.txt", "text/plain", b"stuck")
        .await;
    let stuck = JobKind::Scan {
        file_id: file["id"].as_str().unwrap().parse().unwrap(),
    };
    app.start_worker();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((attempts, Some(error))) = app.store.job_state(&stuck).await.unwrap() {
            assert!(attempts >= 1);
            assert!(error.contains("longer than 1 s"), "{error}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hung job was never stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
