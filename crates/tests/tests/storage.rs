//! The object store client against the embedded S3 endpoint (or a real store when
//! `FLUIDCLOUD_TEST_S3_ENDPOINT` is set): presigned URLs are enforced by the store,
//! multipart works from presigned part URLs, ranges and deletes behave.

use std::time::Duration;

use fluidcloud_storage::StorageError;
use fluidcloud_tests::TestObjects;
use uuid::Uuid;

fn key() -> String {
    format!("test/{}", Uuid::new_v4())
}

/// PUTs `body` with the given headers; Content-Length always comes from the body, as
/// with any HTTP client.
async fn put(url: &str, headers: &[(String, String)], body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new().put(url).body(body);
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value);
        }
    }
    request.send().await.expect("the store answers")
}

#[tokio::test]
async fn a_presigned_put_accepts_exactly_what_was_declared() {
    let objects = TestObjects::new().await;
    let store = &objects.store;
    let key = key();
    let body = b"hello, presigned world".to_vec();
    let presigned = store
        .presign_put(
            &key,
            "text/plain",
            body.len() as u64,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let signed = presigned.url.to_lowercase();
    assert!(
        signed.contains("content-type"),
        "Content-Type is signed: {}",
        presigned.url
    );
    assert!(
        signed.contains("content-length"),
        "Content-Length is signed: {}",
        presigned.url
    );

    // Another content type, another length, a tampered signature or key: all refused.
    let mut wrong_type = presigned.headers.clone();
    for (name, value) in &mut wrong_type {
        if name.eq_ignore_ascii_case("content-type") {
            *value = "text/html".into();
        }
    }
    assert_eq!(
        put(&presigned.url, &wrong_type, body.clone())
            .await
            .status()
            .as_u16(),
        403
    );
    let longer = [body.clone(), b"!".to_vec()].concat();
    assert_eq!(
        put(&presigned.url, &presigned.headers, longer)
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        put(&presigned.url, &presigned.headers, body[1..].to_vec())
            .await
            .status()
            .as_u16(),
        403
    );
    let tampered = tamper_signature(&presigned.url);
    assert_eq!(
        put(&tampered, &presigned.headers, body.clone())
            .await
            .status()
            .as_u16(),
        403
    );
    let other_key = presigned.url.replace(&key, &format!("{key}x"));
    assert_eq!(
        put(&other_key, &presigned.headers, body.clone())
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        store.head(&key).await.unwrap(),
        None,
        "nothing was stored by refused PUTs"
    );

    let response = put(&presigned.url, &presigned.headers, body.clone()).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(
        store.head(&key).await.unwrap().unwrap().size,
        body.len() as u64
    );

    let whole = store.get(&key, None).await.unwrap();
    assert_eq!(whole.length, body.len() as u64);
    assert_eq!(
        whole.body.collect().await.unwrap().into_bytes().as_ref(),
        body.as_slice()
    );
    let range = store.get(&key, Some((7, 15))).await.unwrap();
    assert_eq!(range.length, 9);
    assert_eq!(
        range.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[7..=15]
    );

    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.delete(&key).await.expect("deleting twice is fine");
    assert!(matches!(
        store.get(&key, None).await,
        Err(StorageError::NotFound)
    ));
}

fn tamper_signature(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").expect("a SigV4 URL") + "X-Amz-Signature=".len();
    let mut url = url.to_owned();
    let replacement = if &url[at..at + 1] == "0" { "1" } else { "0" };
    url.replace_range(at..at + 1, replacement);
    url
}

#[tokio::test]
async fn an_expired_presigned_put_is_refused() {
    let objects = TestObjects::new().await;
    let key = key();
    let presigned = objects
        .store
        .presign_put(&key, "application/octet-stream", 3, Duration::from_secs(1))
        .await
        .unwrap();
    // Expiry is the point of this test, so time has to pass.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let status = put(&presigned.url, &presigned.headers, b"abc".to_vec())
        .await
        .status();
    assert!(status.is_client_error(), "expired URL accepted: {status}");
    assert_eq!(objects.store.head(&key).await.unwrap(), None);
}

#[tokio::test]
async fn multipart_uploads_complete_from_presigned_parts_and_abort_cleanly() {
    let objects = TestObjects::new().await;
    let store = &objects.store;
    let key = key();
    let part_size = 5 * 1024 * 1024;
    let data: Vec<u8> = (0..part_size + 1000).map(|i| (i % 251) as u8).collect();
    let upload_id = store
        .create_multipart(&key, "application/octet-stream")
        .await
        .unwrap();
    let mut parts = Vec::new();
    for (index, chunk) in data.chunks(part_size).enumerate() {
        let number = index as i32 + 1;
        let url = store
            .presign_part(
                &key,
                &upload_id,
                number,
                chunk.len() as u64,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let response = put(&url, &[], chunk.to_vec()).await;
        assert!(
            response.status().is_success(),
            "part {number}: {}",
            response.status()
        );
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push((number, etag));
    }
    store
        .complete_multipart(&key, &upload_id, &parts)
        .await
        .unwrap();
    let stored = store
        .get(&key, None)
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(stored.len(), data.len());
    assert!(stored.as_ref() == data.as_slice());

    let abandoned = format!("{key}-abandoned");
    let upload_id = store
        .create_multipart(&abandoned, "application/octet-stream")
        .await
        .unwrap();
    let url = store
        .presign_part(&abandoned, &upload_id, 1, 1024, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(put(&url, &[], vec![1; 1024]).await.status().is_success());
    store.abort_multipart(&abandoned, &upload_id).await.unwrap();
    assert_eq!(store.head(&abandoned).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

#[tokio::test]
async fn a_part_url_accepts_exactly_the_signed_length() {
    let objects = TestObjects::new().await;
    let store = &objects.store;
    let key = key();
    let upload_id = store
        .create_multipart(&key, "application/octet-stream")
        .await
        .unwrap();
    let url = store
        .presign_part(&key, &upload_id, 1, 1024, Duration::from_secs(60))
        .await
        .unwrap();
    for wrong in [1023, 1025, 300 * 1024] {
        let status = put(&url, &[], vec![7; wrong]).await.status();
        assert_eq!(status, 403, "a {wrong}-byte part through a 1024-byte URL");
    }
    assert!(put(&url, &[], vec![7; 1024]).await.status().is_success());
    store.abort_multipart(&key, &upload_id).await.unwrap();
}

#[tokio::test]
async fn a_missing_bucket_is_an_outage_not_a_missing_object() {
    let objects = TestObjects::new().await;
    let mut settings = objects.settings.clone();
    settings.bucket = format!("no-such-bucket-{}", uuid::Uuid::new_v4().simple());
    let elsewhere = fluidcloud_storage::ObjectStore::new(&settings);
    // reconcile must not read an empty listing, a scan must retry rather than fail the
    // file for good, a deletion must not count as done.
    assert!(matches!(
        elsewhere.list_keys("t/").await,
        Err(StorageError::Unavailable(_))
    ));
    // The embedded store answers NoSuchKey to any read in a missing bucket (its bucket
    // is made at start); real stores say NoSuchBucket.
    if objects.dir.is_none() {
        assert!(matches!(
            elsewhere.get(&key(), None).await,
            Err(StorageError::Unavailable(_))
        ));
        assert!(matches!(
            elsewhere.delete(&key()).await,
            Err(StorageError::Unavailable(_))
        ));
    }
}

#[tokio::test]
async fn many_objects_are_deleted_in_batches_and_missing_ones_are_no_error() {
    use futures_util::{StreamExt, TryStreamExt};
    let objects = TestObjects::new().await;
    let store = &objects.store;
    let prefix = key();
    // One more than a `DeleteObjects` batch holds, so two requests are needed.
    let keys: Vec<String> = (0..1_001).map(|i| format!("{prefix}/{i:04}")).collect();
    futures_util::stream::iter(&keys)
        .map(|key| async move {
            let body = aws_smithy_types::byte_stream::ByteStream::from(key.as_bytes().to_vec());
            store.put(key, "text/plain", body, key.len() as u64).await
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    assert_eq!(store.list_keys(&prefix).await.unwrap().len(), keys.len());

    let mut with_missing = keys.clone();
    with_missing.push(format!("{prefix}/never-written"));
    store.delete_many(&with_missing).await.unwrap();
    assert_eq!(
        store.list_keys(&prefix).await.unwrap(),
        Vec::<String>::new()
    );
    store
        .delete_many(&keys)
        .await
        .expect("deleting them again is fine");
}
