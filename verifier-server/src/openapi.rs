//! The OpenAPI 3.1 description of the service (`GET /openapi.json`),
//! generated from the handlers' `#[utoipa::path]` annotations so it cannot
//! drift from the code. Every handler is listed in [`ApiDoc`]'s `paths`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Liaoning road-transport e-certificate service",
        description = "Collection, issuing, signed lists, verification logs and evaluation."
    ),
    paths(
        crate::api::healthz,
        crate::devices::post_device,
        crate::logs::post_logs,
        crate::logs::get_head,
        crate::logs::get_logs,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "Health and description"),
        (name = "devices", description = "Officer device enrollment"),
        (name = "verification logs", description = "Officer devices' signed check logs"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme every authenticated path names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
