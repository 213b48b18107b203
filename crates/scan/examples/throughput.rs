//! Scan throughput of a scanner over a stream held in memory, the way the worker feeds
//! it (1 MiB chunks, SHA-256 alongside). `throughput [builtin | tcp://host:port] [MiB]`
//! prints one JSON line.

use std::time::Instant;

use fluidcloud_scan::Scanner;
use sha2::{Digest, Sha256};

#[tokio::main]
#[expect(clippy::print_stdout, reason = "the figure is the program's output")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "builtin".into());
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let scanner = if target == "builtin" {
        Scanner::builtin(None).expect("built-in scanner")
    } else {
        Scanner::clamd(
            target.parse().expect("a clamd address"),
            std::time::Duration::from_secs(120),
        )
    };
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..mib << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let started = Instant::now();
    let mut session = scanner.start().await.expect("scanner reachable");
    let mut hasher = Sha256::new();
    for chunk in data.chunks(1 << 20) {
        hasher.update(chunk);
        session.feed(chunk).await.expect("scan");
    }
    let verdict = session
        .finish(&hasher.finalize().into())
        .await
        .expect("verdict");
    let seconds = started.elapsed().as_secs_f64();
    let name = scanner.version().await.unwrap_or_default();
    println!(
        "{{\"scanner\": {name:?}, \"mib\": {mib}, \"seconds\": {seconds:.2}, \"mb_per_second\": {:.1}, \"verdict\": {:?}}}",
        (mib << 20) as f64 / 1e6 / seconds,
        format!("{verdict:?}")
    );
}
