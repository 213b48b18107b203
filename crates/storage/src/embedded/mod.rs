//! An S3 endpoint served inside the process over a local folder (`s3s` + `s3s-fs`),
//! with real SigV4 checks, so `fluidcloud dev` and the tests exercise the same S3 code
//! path and the same presigned URLs as production, with nothing installed. Browsers
//! get CORS answers for the configured origins ([`cors`]).

mod cors;

mod stall;

use std::future::Future;
use std::path::Path;

use fluidcloud_core::config::ListenerSettings;
use fluidcloud_core::cors::AllowedOrigins;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// The one key pair the embedded store accepts. Never a published constant: anyone
/// who can reach the port with it could read and write every tenant's objects.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// A new random pair.
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut hex = |bytes: usize| -> String {
            (0..bytes)
                .map(|_| format!("{:02x}", rng.random::<u8>()))
                .collect()
        };
        Credentials {
            access_key_id: format!("FCDEV{}", hex(8).to_ascii_uppercase()),
            secret_access_key: hex(24),
        }
    }
}

/// Why the embedded store could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve the embedded object store from {path}: {message}")]
pub struct EmbeddedError {
    path: String,
    message: String,
}

/// Serves S3 over `root` on `listener` until `shutdown` completes; connections in
/// flight are finished first. Pages of `cors` origins may use it from a browser.
/// Headers must arrive within the listeners' header timeout, and a body may not pause
/// for longer than their body timeout.
pub fn serve(
    root: &Path,
    credentials: &Credentials,
    cors: &AllowedOrigins,
    listeners: &ListenerSettings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Future<Output = std::io::Result<()>> + Send + 'static, EmbeddedError> {
    std::fs::create_dir_all(root).map_err(|e| EmbeddedError {
        path: root.display().to_string(),
        message: e.to_string(),
    })?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| EmbeddedError {
        path: root.display().to_string(),
        message: format!("{e:?}"),
    })?;
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            credentials.access_key_id.as_str(),
            credentials.secret_access_key.as_str(),
        ));
        cors::WithCors::new(builder.build(), cors.clone())
    };
    let header_read_timeout = listeners.header_read_timeout();
    let body_read_timeout = listeners.body_read_timeout();
    let service =
        hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let service = service.clone();
            let request = request.map(|body| {
                s3s::Body::http_body_unsync(stall::StallTimeout::new(body, body_read_timeout))
            });
            hyper::service::Service::call(&service, request)
        });
    Ok(async move {
        // A half-sent request is closed once `header_read_timeout` has passed.
        let mut connections = ConnectionBuilder::new(TokioExecutor::new());
        connections
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (socket, _) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            tracing::warn!(error = %err, "embedded object store: accept failed");
                            continue;
                        }
                    };
                    let connection = connections.serve_connection(TokioIo::new(socket), service.clone());
                    let connection = graceful.watch(connection.into_owned());
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        graceful.shutdown().await;
        Ok(())
    })
}
