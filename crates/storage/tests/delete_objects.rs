//! What `delete_many` puts on the wire, read off a listener that records each request
//! and answers as S3 does: batches of at most 1,000 keys, each with a `Content-MD5` that
//! matches its body, and per-key errors other than "already gone" reported as failures.

use base64::Engine as _;
use fluidcloud_storage::{ObjectStore, StorageError, StoreSettings};
use md5::{Digest, Md5};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A request as received: its headers (lower-cased names) and body.
struct Recorded {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Accepts connections, records each request and answers every one with `answer`.
async fn recording_listener(answer: &'static str) -> (String, mpsc::UnboundedReceiver<Recorded>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = Vec::new();
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).await.unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap();
                        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
                    }
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .map_or(0, |(_, v)| v.parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    sender.send(Recorded { headers, body }).unwrap();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    reader
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .unwrap();
                }
            });
        }
    });
    (format!("http://{address}"), receiver)
}

fn store(endpoint: String) -> ObjectStore {
    ObjectStore::new(&StoreSettings {
        endpoint,
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: "bucket".into(),
        access_key_id: "access".into(),
        secret_access_key: "secret".to_owned().into(),
        force_path_style: true,
        timeouts: Default::default(),
    })
}

const NOTHING_FAILED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>"#;

#[tokio::test]
async fn deletes_go_in_batches_of_a_thousand_each_with_its_content_md5() {
    let (endpoint, mut requests) = recording_listener(NOTHING_FAILED).await;
    let keys: Vec<String> = (0..2_345).map(|i| format!("objects/{i:05}")).collect();
    store(endpoint).delete_many(&keys).await.unwrap();

    let mut batches = Vec::new();
    while let Ok(request) = requests.try_recv() {
        let expected = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&request.body));
        assert_eq!(request.header("content-md5"), Some(expected.as_str()));
        let body = String::from_utf8(request.body).unwrap();
        batches.push(body.matches("<Key>").count());
        assert!(body.contains("<Quiet>true</Quiet>"), "{body}");
    }
    assert_eq!(batches, [1_000, 1_000, 345]);
}

#[tokio::test]
async fn a_key_the_store_failed_to_delete_is_an_error_but_a_missing_one_is_not() {
    const ONE_GONE: &str = r#"<DeleteResult><Error><Key>a</Key><Code>NoSuchKey</Code><Message>gone</Message></Error></DeleteResult>"#;
    let (endpoint, _requests) = recording_listener(ONE_GONE).await;
    store(endpoint).delete_many(&["a".into()]).await.unwrap();

    const ONE_DENIED: &str = r#"<DeleteResult><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"#;
    let (endpoint, _requests) = recording_listener(ONE_DENIED).await;
    let err = store(endpoint)
        .delete_many(&["a".into(), "b".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::Unavailable(reason) if reason.contains("b: AccessDenied")),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_keys_no_request() {
    let (endpoint, mut requests) = recording_listener(NOTHING_FAILED).await;
    store(endpoint).delete_many(&[]).await.unwrap();
    assert!(requests.try_recv().is_err());
}
