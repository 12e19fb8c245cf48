//! The dashboard at `/`: a single-page application for analysts over the `/v1` API.
//!
//! Its three files (`assets/index.html`, `assets/app.js`, `assets/app.css`) are compiled into the
//! binary, so the dashboard works offline and needs no CDN. Charts are small SVG drawings made by
//! `app.js` itself; a charting library would be the largest file served for four chart shapes.
//! Assets are looked up by exact name in a fixed table, so no request path ever reaches the file
//! system. Every asset goes out with a content security policy that allows only this origin's own
//! scripts, styles and API, and forbids framing.
//!
//! The pages hold no data: they call the API with the token the analyst enters (kept in the
//! browser's session storage), so the API's authentication and source scopes apply unchanged.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::http::ApiError;

/// Served with every dashboard file.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The embedded files: name, content type, bytes.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
];

fn asset(name: &str) -> Option<Response> {
    let (_, content_type, body) = ASSETS.iter().find(|(own, _, _)| *own == name)?;
    let mut response = (StatusCode::OK, *body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// `/`: the dashboard's page.
pub async fn index() -> Response {
    asset("index.html").unwrap_or_else(|| ApiError::not_found("page").into_response())
}

/// `/assets/{name}`: one embedded file by exact name; anything else is 404.
pub async fn file(Path(name): Path<String>) -> Response {
    asset(&name).unwrap_or_else(|| ApiError::not_found("asset").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_embedded_names_are_served() {
        for (name, _, body) in ASSETS {
            assert!(!body.is_empty(), "{name}");
            assert!(asset(name).is_some(), "{name}");
        }
        for name in [
            "../Cargo.toml",
            "assets/app.js",
            "",
            "APP.JS",
            "app.js/",
            "%2e%2e",
        ] {
            assert!(asset(name).is_none(), "{name}");
        }
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = ASSETS[0].2;
        for reference in ["/assets/app.js", "/assets/app.css"] {
            assert!(page.contains(reference), "{reference}");
        }
        // Nothing is loaded from elsewhere (the SVG namespace is a name, not a fetch).
        for (name, _, body) in ASSETS {
            let body = body.replace("'http://www.w3.org/2000/svg'", "");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{name}"
            );
            assert!(
                !body.contains("//cdn") && !body.contains("@import"),
                "{name}"
            );
        }
    }
}
