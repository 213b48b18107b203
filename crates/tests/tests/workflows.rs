//! The upload workflows called directly, without HTTP: each compensation path gives
//! back what it took. On SQLite and the embedded store by default, on PostgreSQL and
//! an S3 store when the environment names them.

use std::sync::Arc;

use fluidcloud_core::config::Settings;
use fluidcloud_core::model::{Plan, ScanStatus, UploadState};
use fluidcloud_db::{NewTenant, Store};
use fluidcloud_services::ServiceContext;
use fluidcloud_services::fetch::Importer;
use fluidcloud_services::uploads::{
    self, CompleteUpload, CompletedPart, ImportUrl, InitiateUpload, UploadError, UploadMode,
    Uploader,
};
use fluidcloud_storage::ObjectStore;
use fluidcloud_tests::app::test_settings;
use fluidcloud_tests::{TestDb, TestObjects};
use uuid::Uuid;

struct Fixture {
    _db: TestDb,
    objects: TestObjects,
    context: ServiceContext,
    uploader: Uploader,
    space_id: Uuid,
}

async fn fixture(adjust: impl FnOnce(&mut Settings)) -> Fixture {
    let db = TestDb::new().await;
    let objects = TestObjects::new().await;
    let mut settings = test_settings(&db.url, &objects);
    adjust(&mut settings);
    let store = db.store().await;
    let tenant = store
        .create_tenant(&NewTenant {
            name: "t".into(),
            plan: Plan {
                bytes_limit: 1_000_000,
                ..Plan::unlimited()
            },
        })
        .await
        .unwrap();
    let space = store.create_space(tenant.id, "s", None).await.unwrap();
    let context = ServiceContext::from_settings(store, Arc::new(settings)).unwrap();
    Fixture {
        _db: db,
        objects,
        context,
        uploader: Uploader {
            tenant_id: tenant.id,
            key_id: Uuid::new_v4(),
            max_file_size: -1,
        },
        space_id: space.id,
    }
}

impl Fixture {
    fn store(&self) -> &Store {
        &self.context.store
    }

    /// Bytes counted against the pool (used plus reserved).
    async fn counted(&self) -> i64 {
        self.store()
            .storage_counted(self.uploader.tenant_id)
            .await
            .unwrap()
            .1
    }

    async fn state(&self, file_id: Uuid) -> UploadState {
        self.store()
            .upload(self.uploader.tenant_id, file_id)
            .await
            .unwrap()
            .unwrap()
            .state
    }

    fn initiate_body(&self, size: u64) -> InitiateUpload {
        InitiateUpload {
            original_name: "a.bin".into(),
            content_type: "application/octet-stream".into(),
            size,
            space_id: self.space_id,
            folder_id: None,
            app: None,
        }
    }

    fn complete_body(&self, file_id: Uuid, key: &str, size: u64) -> CompleteUpload {
        CompleteUpload {
            file_id,
            key: key.to_owned(),
            upload_id: None,
            parts: None,
            original_name: "a.bin".into(),
            mime: None,
            size,
            sha256: None,
            space_id: self.space_id,
            folder_id: None,
            app: None,
            client_key: None,
        }
    }

    /// This fixture's context with an object store that refuses every connection.
    fn with_unreachable_store(&self) -> ServiceContext {
        let mut settings = self.objects.settings.clone();
        settings.endpoint = "http://127.0.0.1:9".into();
        ServiceContext {
            objects: ObjectStore::new(&settings),
            ..self.context.clone()
        }
    }
}

#[tokio::test]
async fn a_store_that_cannot_open_a_multipart_upload_releases_the_reservation() {
    let f = fixture(|s| s.uploads.multipart_threshold_bytes = 1).await;
    let broken = f.with_unreachable_store();
    let err = uploads::initiate(&broken, &f.uploader, &f.initiate_body(5_000))
        .await
        .expect_err("the store is down");
    assert!(matches!(err, UploadError::Objects(_)), "{err:?}");
    assert_eq!(f.counted().await, 0);
}

#[tokio::test]
async fn an_object_of_the_wrong_size_is_erased_and_its_reservation_released() {
    let f = fixture(|_| {}).await;
    let ticket = uploads::initiate(&f.context, &f.uploader, &f.initiate_body(10))
        .await
        .unwrap();
    assert_eq!(ticket.mode, UploadMode::Single);
    assert_eq!(f.counted().await, 10);
    // Written around the presigned URL: 7 bytes where 10 were declared.
    f.context
        .objects
        .put(
            &ticket.key,
            "application/octet-stream",
            b"1234567".to_vec().into(),
            7,
        )
        .await
        .unwrap();
    let err = uploads::complete(
        &f.context,
        &f.uploader,
        f.complete_body(ticket.file_id, &ticket.key, 10),
    )
    .await
    .expect_err("sizes differ");
    assert!(matches!(err, UploadError::BadRequest(_)), "{err:?}");
    assert_eq!(f.counted().await, 0);
    assert_eq!(f.state(ticket.file_id).await, UploadState::Rejected);
    assert_eq!(f.context.objects.head(&ticket.key).await.unwrap(), None);
    // A rejected upload cannot be completed afterwards.
    let again = uploads::complete(
        &f.context,
        &f.uploader,
        f.complete_body(ticket.file_id, &ticket.key, 10),
    )
    .await
    .expect_err("rejected");
    assert!(matches!(again, UploadError::Conflict(_)), "{again:?}");
}

#[tokio::test]
async fn completing_before_the_bytes_arrive_keeps_the_upload_open() {
    let f = fixture(|_| {}).await;
    let ticket = uploads::initiate(&f.context, &f.uploader, &f.initiate_body(10))
        .await
        .unwrap();
    let err = uploads::complete(
        &f.context,
        &f.uploader,
        f.complete_body(ticket.file_id, &ticket.key, 10),
    )
    .await
    .expect_err("nothing uploaded");
    assert!(matches!(err, UploadError::BadRequest(_)), "{err:?}");
    assert_eq!(f.state(ticket.file_id).await, UploadState::Open);
    assert_eq!(f.counted().await, 10);

    // The bytes arrive: the same call now completes, and repeating it is harmless.
    f.context
        .objects
        .put(
            &ticket.key,
            "application/octet-stream",
            b"0123456789".to_vec().into(),
            10,
        )
        .await
        .unwrap();
    let body = || f.complete_body(ticket.file_id, &ticket.key, 10);
    let file = uploads::complete(&f.context, &f.uploader, body())
        .await
        .unwrap();
    assert_eq!(file.scan_status, ScanStatus::Clean);
    let repeated = uploads::complete(&f.context, &f.uploader, body())
        .await
        .unwrap();
    assert_eq!(repeated.id, file.id);
    let mut different = body();
    different.original_name = "b.bin".into();
    let err = uploads::complete(&f.context, &f.uploader, different)
        .await
        .expect_err("different data");
    assert!(matches!(err, UploadError::Conflict(_)), "{err:?}");
    assert_eq!(f.state(ticket.file_id).await, UploadState::Completed);
    assert_eq!(f.counted().await, 10);
}

#[tokio::test]
async fn multipart_parts_that_do_not_match_leave_the_upload_open() {
    let f = fixture(|s| s.uploads.multipart_threshold_bytes = 1).await;
    let ticket = uploads::initiate(&f.context, &f.uploader, &f.initiate_body(100))
        .await
        .unwrap();
    assert_eq!(ticket.mode, UploadMode::Multipart);
    let mut body = f.complete_body(ticket.file_id, &ticket.key, 100);
    body.upload_id = ticket.upload_id.clone();
    body.parts = Some(vec![
        CompletedPart {
            part_number: 1,
            etag: "\"x\"".into(),
        },
        CompletedPart {
            part_number: 2,
            etag: "\"y\"".into(),
        },
    ]);
    let err = uploads::complete(&f.context, &f.uploader, body)
        .await
        .expect_err("one part expected");
    assert!(matches!(err, UploadError::BadRequest(_)), "{err:?}");
    assert_eq!(f.state(ticket.file_id).await, UploadState::Open);
    assert_eq!(f.counted().await, 100);
}

/// Serves `body` once to whoever connects, as a plain HTTP/1.1 response.
async fn serve_once(body: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report.pdf", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/pdf\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(body).await.unwrap();
    });
    url
}

#[tokio::test]
async fn an_import_the_store_refuses_releases_its_reservation() {
    let f = fixture(|s| s.import.allowed_networks = vec!["127.0.0.1/32".into()]).await;
    let importer = Importer::new(&f.context.settings.import).unwrap();
    let url = serve_once(b"%PDF-1.4 imported").await;
    let broken = f.with_unreachable_store();
    let body = ImportUrl {
        url,
        space_id: f.space_id,
        folder_id: None,
        original_name: None,
        client_key: None,
        app: None,
    };
    let err = uploads::import_url(&broken, &importer, &f.uploader, &body)
        .await
        .expect_err("the store is down");
    assert!(matches!(err, UploadError::Objects(_)), "{err:?}");
    assert_eq!(f.counted().await, 0);
}

#[tokio::test]
async fn an_import_larger_than_the_room_left_is_refused_before_any_reservation() {
    let f = fixture(|s| s.import.allowed_networks = vec!["127.0.0.1/32".into()]).await;
    f.store()
        .update_tenant(
            f.uploader.tenant_id,
            &fluidcloud_db::TenantUpdate {
                bytes_limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let importer = Importer::new(&f.context.settings.import).unwrap();
    let body = ImportUrl {
        url: serve_once(b"twelve bytes").await,
        space_id: f.space_id,
        folder_id: None,
        original_name: None,
        client_key: None,
        app: None,
    };
    let err = uploads::import_url(&f.context, &importer, &f.uploader, &body)
        .await
        .expect_err("over quota");
    assert!(matches!(err, UploadError::QuotaExceeded(_)), "{err:?}");
    assert_eq!(f.counted().await, 0);
}
