//! The console's built files (Vite's `console/dist`) at `/console/`, on the API's own origin as a
//! deployment serves them: a `config.json` the stack writes, SPA routing to `index.html`, and the
//! security headers on every answer.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::idp::{CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID, ISSUER_PATH};

/// The console's path on the stack.
pub const PATH: &str = "/console";
/// Only the console's own origin may serve its scripts, styles, images and fonts, take its API
/// calls and its sign-in form, and nothing may frame it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";
/// Vite names what it puts here by its content's hash: such a name never serves other bytes.
const HASHED_ASSETS: &str = "assets/";

/// The console as the local stack serves it.
#[derive(Clone, Debug)]
pub struct ConsoleSite {
    dir: PathBuf,
    api: String,
}

/// Why a path under `/console/` names no file the console may serve.
#[derive(Debug, PartialEq)]
enum Refused {
    /// A `.` or `..` segment, a separator or NUL inside one (decoded), or bad percent-encoding.
    Traversal,
}

/// The relative file path `rest` (the raw, percent-encoded path after `/console/`) names, checked
/// segment by segment after decoding: nothing may climb out of the console's directory.
fn relative_path(rest: &str) -> Result<PathBuf, Refused> {
    let mut path = PathBuf::new();
    for raw in rest.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| Refused::Traversal)?;
        if segment == "." || segment == ".." || segment.contains(['/', '\\', '\0']) {
            return Err(Refused::Traversal);
        }
        path.push(segment.as_ref());
    }
    Ok(path)
}

/// The media type of a file, by its extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Every console answer carries the security headers, and is cached only when it is a hashed asset.
fn answer(
    status: u16,
    content_type: &str,
    immutable: bool,
    extra: &[(&str, &str)],
    body: Vec<u8>,
) -> http::Response<Vec<u8>> {
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut builder = http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("valid response")
}

fn text(status: u16, body: &str) -> http::Response<Vec<u8>> {
    answer(status, "text/plain; charset=utf-8", false, &[], body.as_bytes().to_vec())
}

impl ConsoleSite {
    /// The console built into `dir`, for the stack at `api` (`http://127.0.0.1:<port>`).
    pub fn new(dir: impl Into<PathBuf>, api: impl Into<String>) -> Self {
        Self { dir: dir.into(), api: api.into() }
    }

    /// What the console is told about its deployment: the development identity provider, its
    /// client id there, the API and the sign-in callback, all on the stack's origin.
    pub fn config(&self) -> serde_json::Value {
        json!({
            "issuer": format!("{}{ISSUER_PATH}", self.api),
            "clientId": CONSOLE_CLIENT_ID,
            "apiBaseUrl": self.api,
            "redirectUri": format!("{}{CONSOLE_CALLBACK_PATH}", self.api),
        })
    }

    /// The answer to `method path` (the path without its query) when it is the console's: `GET`
    /// or `HEAD` of `/console` or below.
    pub fn answer(&self, method: &str, path: &str) -> Option<http::Response<Vec<u8>>> {
        if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
            return None;
        }
        if path == PATH {
            return Some(answer(301, "text/plain; charset=utf-8", false, &[("location", "/console/")], Vec::new()));
        }
        let rest = path.strip_prefix(PATH)?.strip_prefix('/')?;
        if rest == "config.json" {
            return Some(answer(200, "application/json", false, &[], self.config().to_string().into_bytes()));
        }
        let Ok(relative) = relative_path(rest) else {
            return Some(text(400, "refused: the path climbs out of the console"));
        };
        let index = self.dir.join("index.html");
        let Ok(index_html) = std::fs::read(&index) else {
            return Some(text(503, "the console is not built: run make console"));
        };
        if let Some(bytes) = self.file(&relative) {
            let immutable = relative.starts_with(HASHED_ASSETS);
            return Some(answer(200, content_type(&relative), immutable, &[], bytes));
        }
        // Any other path is one of the single-page app's routes: its router reads it.
        Some(answer(200, "text/html; charset=utf-8", false, &[], index_html))
    }

    /// The bytes of the regular file at `relative`, if it is one inside the console's directory
    /// (a symbolic link out of it is no file of the console).
    fn file(&self, relative: &Path) -> Option<Vec<u8>> {
        if relative.as_os_str().is_empty() {
            return None;
        }
        let root = self.dir.canonicalize().ok()?;
        let file = root.join(relative).canonicalize().ok()?;
        if !file.starts_with(&root) || !file.is_file() {
            return None;
        }
        std::fs::read(file).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_refused_when_any_decoded_segment_could_climb_out() {
        for rest in ["..", "a/../b", "%2e%2e/x", "a/%2E/b", "a%2fb", "a%5cb", "a%00b", "%ff"] {
            assert_eq!(relative_path(rest), Err(Refused::Traversal), "{rest}");
        }
        assert_eq!(relative_path("assets/app-1a2b.js").unwrap(), PathBuf::from("assets/app-1a2b.js"));
        assert_eq!(relative_path("api-keys//x%20y").unwrap(), PathBuf::from("api-keys/x y"));
        assert_eq!(relative_path("").unwrap(), PathBuf::new());
    }

    #[test]
    fn media_types_follow_the_extension() {
        for (name, media) in [
            ("index.html", "text/html; charset=utf-8"),
            ("assets/a.js", "text/javascript; charset=utf-8"),
            ("assets/a.css", "text/css; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.js.map", "application/json"),
            ("logo.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("favicon.ico", "image/x-icon"),
            ("f.woff2", "font/woff2"),
            ("unknown.bin", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), media, "{name}");
        }
    }
}
