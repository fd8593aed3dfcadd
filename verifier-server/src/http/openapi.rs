//! The OpenAPI 3.1 description of the service (`GET /openapi.json`),
//! generated from the handlers' `#[utoipa::path]` annotations so it cannot
//! drift from the code: each area registers a handler and its description
//! together (`utoipa_axum::routes!`), and the document served is the one
//! of the router's own routes ([`super::document`]).
//!
//! Answers that every route can give are added by `CommonResponses`
//! rather than repeated on each handler: 429 (rate limit) and 503 (request
//! timeout, overload) on every route inside the request layers, 401 on
//! authenticated paths, 400 and 413 on paths with a body. The signed lists
//! are routed outside those layers (`http::app`), so their operations do
//! not carry 429 or 503.
//!
//! The wire types in `shared::api` and the domain types they carry derive
//! their schemas behind `shared`'s `schema` feature; the catalogue's types
//! are described here by mirrors (`CatalogueEntryDoc`, …) named like the
//! originals, and tests check that mirror and original agree.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Liaoning road-transport e-certificate service",
        description = "Collection, issuing, signed lists, verification logs and evaluation."
    ),
    components(schemas(super::error::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "Health and description"),
        (name = "lists", description = "The catalogue and the signed trust and status lists (public)"),
        (name = "issuing", description = "Pushes, corrections and lifecycle changes of agencies"),
        (name = "holder", description = "A holder's own certificates, QR codes, device keys and wallet"),
        (name = "audit", description = "The audit log (auditors and administrators)"),
        (name = "devices", description = "Officer device enrollment"),
        (name = "verification logs", description = "Officer devices' signed check logs"),
        (name = "lookup", description = "Online lookup by plate, ID number or certificate number (officers)"),
        (name = "evaluation", description = "The annual evaluation of the cities and the province (R11, R12)"),
        (name = "applications", description = "Registered applications: registration and keys (administrator), OAuth 2.0 tokens by private_key_jwt, holder sign-in through 运证通"),
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

/// Adds the answers the router's layers give on every path (see the
/// module documentation), unless a handler already describes them.
struct CommonResponses {
    /// Whether the operations are inside the rate limit, timeout and
    /// concurrency limit (429, 503); the signed lists are not.
    layered: bool,
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn add_common(op: &mut Operation, layered: bool) {
    let mut common = Vec::new();
    if layered {
        common.push(("429", "Too many requests from this caller; see Retry-After"));
        common.push((
            "503",
            "The request took too long or the service is overloaded",
        ));
    }
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        common.push((
            "401",
            "No valid bearer token (unknown, revoked or expired: `/problems/token-expired`)",
        ));
    }
    if op.request_body.is_some() {
        common.push(("400", "The body is not what the path expects"));
        common.push(("413", "The body is larger than this path accepts"));
    }
    for (code, description) in common {
        op.responses
            .responses
            .entry(code.to_string())
            .or_insert_with(|| problem(description));
    }
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                add_common(op, self.layered);
            }
        }
    }
}

/// The document's description, tags and security scheme, before any route.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document of the routes inside the request layers (`layered`) and
/// of those outside them (`outside`), each with the answers its paths can
/// give, added once the routes are known; a wildcard path `{*rest}` is
/// written `{rest}` in OpenAPI.
pub fn finish(
    mut layered: utoipa::openapi::OpenApi,
    mut outside: utoipa::openapi::OpenApi,
) -> utoipa::openapi::OpenApi {
    CommonResponses { layered: true }.modify(&mut layered);
    CommonResponses { layered: false }.modify(&mut outside);
    layered.merge(outside);
    let mut doc = layered;
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    doc
}

/// The service's own route: health (placed outside the request layers by
/// `http::app`, so that it answers whatever load they hold).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The service is up", body = serde_json::Value)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// A signed list: COSE_Sign1 bytes (`application/cose`, see
/// `docs/wire-format.md`).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct SignedListDoc(pub Vec<u8>);

/// The family of face fields (`shared::domain::cert::Family`).
#[derive(Debug, ToSchema)]
#[schema(as = Family)]
#[serde(rename_all = "snake_case")]
pub enum FamilyDoc {
    /// Practitioner and driver cards.
    Person,
    /// Vehicle certificates.
    Vehicle,
    /// Operating permits.
    Permit,
}

/// A face field of a type (`shared::domain::catalogue::FieldSpec`).
#[derive(Debug, ToSchema)]
#[schema(as = FieldSpec)]
pub struct FieldSpecDoc {
    /// Stable snake_case key, as in a pushed record.
    pub key: String,
    /// Chinese label.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// Whether a record without it is non-conforming.
    pub mandatory: bool,
    /// Whether it is carried in the signed QR payload.
    pub on_qr: bool,
    /// How the value is written, e.g. `date`, `id_number`, `plate`.
    pub format: String,
    /// Longest accepted value in characters, for free text.
    pub max_chars: Option<u16>,
}

/// One certificate type of the R1 catalogue
/// (`shared::domain::catalogue::CatalogueEntry`).
#[derive(Debug, ToSchema)]
#[schema(as = CatalogueEntry)]
pub struct CatalogueEntryDoc {
    /// The type.
    #[schema(value_type = shared::domain::CertType)]
    pub cert_type: String,
    /// The short code, e.g. `YSZ`.
    pub code: String,
    /// Official Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// National data standard.
    pub standard: String,
    /// Family of face fields.
    pub family: FamilyDoc,
    /// Date from which records of this type are collected.
    #[schema(format = Date)]
    pub collection_start: String,
    /// How the printed number is rendered.
    pub template: String,
    /// The face fields in printed order.
    pub face_fields: Vec<FieldSpecDoc>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::to_value(crate::http::document()).unwrap()
    }

    fn enum_of(doc: &Value, schema: &str) -> Vec<String> {
        doc["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}: {}", doc["components"]["schemas"][schema]))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn mirrors_agree_with_the_shared_types() {
        let doc = doc();
        let names = |v: Vec<Value>| -> Vec<String> {
            v.into_iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let types = names(
            shared::domain::CertType::ALL
                .iter()
                .map(|t| serde_json::to_value(t).unwrap())
                .collect(),
        );
        assert_eq!(enum_of(&doc, "CertType"), types);
        let statuses = names(
            shared::status::Status::ALL
                .iter()
                .map(|s| serde_json::to_value(s).unwrap())
                .collect(),
        );
        assert_eq!(enum_of(&doc, "Status"), statuses);
        // Every key the catalogue and a reason serialise is described.
        let entry = serde_json::to_value(&shared::domain::catalogue::catalogue()[0]).unwrap();
        let described = |schema: &str| -> Vec<String> {
            let mut keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let mut keys: Vec<String> = entry.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(described("CatalogueEntry"), keys);
        let mut keys: Vec<String> = entry["face_fields"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        assert_eq!(described("FieldSpec"), keys);
        assert_eq!(
            enum_of(&doc, "Family"),
            ["person", "vehicle", "permit"].map(String::from)
        );
        let reason = serde_json::to_value(shared::domain::Nonconformance {
            field: "f".into(),
            rule: "r".into(),
            message_zh: "z".into(),
            message_en: "e".into(),
        })
        .unwrap();
        let mut keys: Vec<String> = reason.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(described("Nonconformance"), keys);
    }
}
