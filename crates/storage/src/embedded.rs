//! An S3 endpoint served inside the process over a local folder (`s3s` + `s3s-fs`),
//! with real SigV4 checks, so `fluidcloud dev` and the tests exercise the same S3 code
//! path and the same presigned URLs as production, with nothing installed.

use std::future::Future;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// Access key of the embedded store.
pub const ACCESS_KEY_ID: &str = "fluidcloud-dev";
/// Secret key of the embedded store. Only ever listening on loopback for development.
pub const SECRET_ACCESS_KEY: &str = "fluidcloud-dev-secret-key";

/// Why the embedded store could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve the embedded object store from {path}: {message}")]
pub struct EmbeddedError {
    path: String,
    message: String,
}

/// Serves S3 over `root` on `listener` until `shutdown` completes; connections in
/// flight are finished first.
pub fn serve(
    root: &Path,
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
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        builder.build()
    };
    Ok(async move {
        let connections = ConnectionBuilder::new(TokioExecutor::new());
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
