//! The OpenAPI document, built from the same route table the router serves, so a
//! route cannot exist without being described. Served at `/api/v1/openapi.json`.
//! [`conventions`] adds what every operation shares; [`examples`] holds the bodies'
//! examples.

mod conventions;
mod examples;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::routes::{files, folders, gdpr, me, quota, shares, spaces, uploads};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FluidCloud API",
        version = "1",
        description = "Storage and raw-file links for partner apps. Errors are `{\"detail\", \"request_id\"}`."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "identity", description = "Who the key is"),
        (name = "spaces", description = "Top-level containers"),
        (name = "folders", description = "Folder trees, Trash and restore"),
        (name = "uploads", description = "Presigned direct-to-store uploads"),
        (name = "files", description = "Files, Trash, and the owner's download URLs"),
        (name = "gdpr", description = "Permanent deletion"),
        (name = "shares", description = "Raw links"),
        (name = "quota", description = "Usage and limits"),
    )
)]
struct ApiDoc;

/// Declares the two equivalent ways to present a key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// Every `/api/v1` route with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(me::me))
        .routes(routes!(spaces::list_spaces, spaces::create_space))
        .routes(routes!(spaces::rename_space, spaces::delete_space))
        .routes(routes!(folders::list_folders, folders::create_folder))
        .routes(routes!(
            folders::get_folder,
            folders::update_folder,
            folders::trash_folder
        ))
        .routes(routes!(folders::restore_folder))
        .routes(routes!(folders::folder_stats))
        .routes(routes!(uploads::initiate))
        .routes(routes!(uploads::initiate_alias))
        .routes(routes!(uploads::complete))
        .routes(routes!(uploads::import_url))
        .routes(routes!(uploads::cancel))
        .routes(routes!(files::list_files))
        .routes(routes!(files::resolve_file))
        .routes(routes!(
            files::get_file,
            files::update_file,
            files::trash_file
        ))
        .routes(routes!(files::restore_file))
        .routes(routes!(files::download_url))
        .routes(routes!(files::preview_url))
        .routes(routes!(gdpr::purge_file))
        .routes(routes!(gdpr::empty_trash))
        .routes(routes!(shares::create_share, shares::list_shares))
        .routes(routes!(shares::revoke_share))
        .routes(routes!(quota::quota))
        .route(
            DOCUMENT_PATH.trim_start_matches("/api/v1"),
            axum::routing::get(serve_document),
        );
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}

/// The document as served. The conventions pass runs here, after the routes are
/// merged in: `ApiDoc`'s own modifiers run before any path exists.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = routes().split_for_parts().1;
    conventions::Conventions.modify(&mut document);
    document
}

async fn serve_document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(document())
}
