//! A list route's answer: `{items, nextCursor}`, the cursor opened and sealed for one query.

use super::{ApiError, ListParams};
use crate::App;

impl App {
    /// A list route's answer: opens the request's `limit` and `cursor` for `scope`, reads the page
    /// with `read`, and answers `{items, nextCursor}`, the next cursor sealed for the same scope.
    pub async fn list_page<T, F, Fut>(
        &self,
        req: &lambda_http::Request,
        scope: &str,
        read: F,
    ) -> Result<lambda_http::Response<lambda_http::Body>, ApiError>
    where
        T: serde::Serialize,
        F: FnOnce(ListParams) -> Fut,
        Fut: std::future::Future<Output = Result<crate::store::Page<T>, ApiError>>,
    {
        let cursors = &self.keys().await?.cursors;
        let page = read(ListParams::from_request(req, cursors, scope)?).await?;
        let next = page.next.map(|k| cursors.seal(scope, &k));
        Ok(super::json(200, &serde_json::json!({"items": page.items, "nextCursor": next})))
    }
}
