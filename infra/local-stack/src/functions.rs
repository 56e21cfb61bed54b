//! The function crates the local stack links, by the binary name the template gives them.

use lambda_http::{Body, Request, Response};
use shared::App;

/// Every function this stack can serve; a test checks it equals the template's set.
pub const FUNCTIONS: &[&str] = &["credentials", "principals", "revocation"];

/// Calls function `name`'s `handle`, as its Lambda would; `None` for a function not linked here.
pub async fn invoke(app: &App, name: &str, req: Request) -> Option<Response<Body>> {
    Some(match name {
        "principals" => principals::handle(app, req).await,
        "credentials" => credentials::handle(app, req).await,
        "revocation" => revocation::handle(app, req).await,
        _ => return None,
    })
}
