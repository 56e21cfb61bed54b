//! The function crates the local stack links, by the binary name the template gives them.

use lambda_http::{Body, Request, Response};
use shared::App;

/// Every function this stack can serve; a test checks it equals the template's set.
pub const FUNCTIONS: &[&str] = &["credentials", "organisation", "principals", "revocation", "roles", "token-exchange"];

/// Calls function `name`'s `handle`, as its Lambda would; `None` for a function not linked here.
pub async fn invoke(app: &App, name: &str, req: Request) -> Option<Response<Body>> {
    Some(match name {
        "principals" => principals::handle(app, req).await,
        "credentials" => credentials::handle(app, req).await,
        "revocation" => revocation::handle(app, req).await,
        "token-exchange" => token_exchange::handle(app, req).await,
        "roles" => roles::handle(app, req).await,
        "organisation" => organisation::handle(app, req).await,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::FUNCTIONS;
    use crate::template::Template;

    #[test]
    fn the_stack_links_exactly_the_functions_the_template_routes_to() {
        let template = Template::load_default().unwrap();
        assert_eq!(template.functions(), FUNCTIONS.to_vec(), "template functions vs local stack");
    }

    #[test]
    fn every_templated_function_is_a_crate_of_the_workspace() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for name in Template::load_default().unwrap().functions() {
            let manifest = root.join(format!("functions/{name}/Cargo.toml"));
            let text =
                std::fs::read_to_string(&manifest).unwrap_or_else(|_| panic!("{} is missing", manifest.display()));
            assert!(text.contains(&format!("name = \"{name}\"")), "{name}: crate name must equal the binary name");
            assert!(workspace.contains(&format!("\"functions/{name}\"")), "{name} is not a workspace member");
        }
    }
}
