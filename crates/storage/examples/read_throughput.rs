//! Throughput of reading one object through `ObjectStore::get`, against a plain GET of a
//! presigned URL with reqwest: `read_throughput ENDPOINT BUCKET ACCESS SECRET [MiB]`.

use std::time::{Duration, Instant};

use fluidcloud_storage::{ObjectStore, StoreSettings};

#[tokio::main]
#[expect(clippy::print_stdout, reason = "the figures are the program's output")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(64);
    let store = ObjectStore::new(&StoreSettings {
        endpoint: args[1].clone(),
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: args[2].clone(),
        access_key_id: args[3].clone(),
        secret_access_key: args[4].clone().into(),
        force_path_style: true,
        timeouts: Default::default(),
    });
    let key = "bench/read-throughput";
    let data = vec![7u8; mib << 20];
    store
        .put(
            key,
            "application/octet-stream",
            data.into(),
            (mib << 20) as u64,
        )
        .await
        .expect("put");
    for round in 0..3 {
        let started = Instant::now();
        let mut object = store.get(key, None).await.expect("get");
        let (mut bytes, mut chunks, mut largest) = (0usize, 0usize, 0usize);
        while let Some(chunk) = object.body.next().await {
            let chunk = chunk.expect("chunk");
            bytes += chunk.len();
            chunks += 1;
            largest = largest.max(chunk.len());
        }
        let sdk = bytes as f64 / 1e6 / started.elapsed().as_secs_f64();
        let url = store
            .presign_get(key, Duration::from_secs(60))
            .await
            .expect("presign");
        let started = Instant::now();
        let mut response = reqwest::get(&url).await.expect("get");
        let mut raw_bytes = 0usize;
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            raw_bytes += chunk.len();
        }
        let raw = raw_bytes as f64 / 1e6 / started.elapsed().as_secs_f64();
        println!(
            "round {round}: sdk {sdk:.0} MB/s ({chunks} chunks, mean {} KiB, largest {} KiB); reqwest {raw:.0} MB/s",
            bytes / chunks.max(1) / 1024,
            largest / 1024
        );
    }
}
