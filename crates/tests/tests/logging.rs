//! Log lines written on a request's behalf carry its request id, route and tenant,
//! also when they are written deep inside (the inline scan of `complete`). A test
//! binary of its own: it installs the process's global logger.

use std::io::Write;
use std::sync::{Arc, Mutex};

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::send;
use serde_json::Value;

/// Collects everything the logger writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is JSON"))
            .collect()
    }
}

#[tokio::test]
async fn a_requests_log_lines_carry_its_request_id_route_and_tenant() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The services' own JSON format (runtime::init_logging), into memory.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .init();

    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let me = send(
        app.http
            .get(format!("{}/api/v1/me", app.base_url))
            .header("X-API-Key", &client.key)
            .header("X-Request-Id", "log-test-1"),
    )
    .await
    .expect(200);
    assert_eq!(me.header("x-request-id"), Some("log-test-1"));
    let space = client.default_space().await;
    client.upload(space, "a.txt", "text/plain", b"logged").await;

    let lines = captured.lines();
    let tenant = client.tenant_id.to_string();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["span"]["request_id"] == "log-test-1")
        .unwrap_or_else(|| panic!("no request line for log-test-1 in {lines:#?}"));
    assert_eq!(request["span"]["route"], "/api/v1/me");
    assert_eq!(request["span"]["method"], "GET");
    assert_eq!(request["span"]["tenant_id"], tenant.as_str());
    assert_eq!(request["span"]["status"], 200);

    // Logged by the scan pipeline, inside the workflow, inside the handler.
    let verdict = lines
        .iter()
        .find(|l| l["message"] == "scan verdict recorded")
        .unwrap_or_else(|| panic!("no verdict line in {lines:#?}"));
    assert_eq!(verdict["span"]["name"], "request");
    assert_eq!(verdict["span"]["route"], "/api/v1/uploads/complete");
    assert_eq!(verdict["span"]["tenant_id"], tenant.as_str());
    let id = verdict["span"]["request_id"]
        .as_str()
        .expect("a request id");
    let completed = lines
        .iter()
        .find(|l| l["message"] == "request" && l["span"]["request_id"] == id)
        .expect("the completing request's own line");
    assert_eq!(completed["span"]["status"], 201);
}
