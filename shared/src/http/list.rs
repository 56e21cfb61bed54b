//! A list route's answer: `{items, nextCursor}`, the cursor opened and sealed for one query.

use super::{ApiError, ListParams};
use crate::App;
use crate::store::Page;

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
        Fut: std::future::Future<Output = Result<Page<T>, ApiError>>,
    {
        let (items, next) = self.page_of(req, scope, read).await?;
        Ok(super::json(200, &serde_json::json!({"items": items, "nextCursor": next})))
    }

    /// [`App::list_page`] before rendering: the page's items and its next cursor, sealed for
    /// `scope` (for a route that answers the page in more than one form).
    pub async fn page_of<T, F, Fut>(
        &self,
        req: &lambda_http::Request,
        scope: &str,
        read: F,
    ) -> Result<(Vec<T>, Option<String>), ApiError>
    where
        F: FnOnce(ListParams) -> Fut,
        Fut: std::future::Future<Output = Result<Page<T>, ApiError>>,
    {
        let cursors = self.cursors().await?;
        let page = read(ListParams::from_request(req, cursors, scope)?).await?;
        Ok((page.items, page.next.map(|k| cursors.seal(scope, &k))))
    }
}
