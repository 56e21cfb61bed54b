//! The function crates the local stack links, by the binary name the template gives them.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::routes::Route;

/// Every HTTP function this stack can serve, with the routes it declares (`shared::routes!`), by
/// binary name; tests check the template, the OpenAPI document and the authorizer's map against it.
pub const ROUTE_TABLES: &[(&str, &[Route])] = &[
    ("credentials", credentials::ROUTES),
    ("developer", developer::ROUTES),
    ("members", members::ROUTES),
    ("organisation", organisation::ROUTES),
    ("principals", principals::ROUTES),
    ("revocation", revocation::ROUTES),
    ("roles", roles::ROUTES),
    ("token-exchange", token_exchange::ROUTES),
    ("whoami", whoami::ROUTES),
    ("workload-trusts", workload_trusts::ROUTES),
];

/// Every function this stack can serve; a test checks it equals the template's set.
pub fn functions() -> Vec<&'static str> {
    ROUTE_TABLES.iter().map(|(name, _)| *name).collect()
}

/// The Lambda authorizers this stack can run in front of routes.
pub const AUTHORIZERS: &[&str] = &["authorizer"];

/// Calls function `name`'s `handle`, as its Lambda would; `None` for a function not linked here.
/// Each future is boxed: one state machine holding all of them would be as large as the largest
/// and deep enough to exceed the compiler's layout recursion limit in the callers.
pub async fn invoke(app: &App, name: &str, req: Request) -> Option<Response<Body>> {
    Some(match name {
        "principals" => Box::pin(principals::handle(app, req)).await,
        "credentials" => Box::pin(credentials::handle(app, req)).await,
        "revocation" => Box::pin(revocation::handle(app, req)).await,
        "token-exchange" => Box::pin(token_exchange::handle(app, req)).await,
        "roles" => Box::pin(roles::handle(app, req)).await,
        "organisation" => Box::pin(organisation::handle(app, req)).await,
        "members" => Box::pin(members::handle(app, req)).await,
        "developer" => Box::pin(developer::handle(app, req)).await,
        "whoami" => Box::pin(whoami::handle(app, req)).await,
        "workload-trusts" => Box::pin(workload_trusts::handle(app, req)).await,
        _ => return None,
    })
}

/// Runs authorizer `name` as API Gateway would, its route map read from the template's environment
/// of that function; `None` for an authorizer not linked here.
pub async fn authorize(
    app: &App,
    name: &str,
    environment: Option<&std::collections::HashMap<String, String>>,
    request: aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request,
) -> Option<
    Result<
        aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerSimpleResponse<serde_json::Value>,
        authorizer::CouldNotDecide,
    >,
> {
    match name {
        "authorizer" => {
            let map = environment.and_then(|e| e.get("AUTHORIZER_ROUTE_ACTIONS")).map_or("{}", String::as_str);
            let routes = authorizer::RouteActions::parse(map).unwrap_or_default();
            Some(Box::pin(authorizer::handle(app, &routes, request)).await)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::functions;
    use crate::template::Template;

    #[test]
    fn the_stack_links_exactly_the_functions_the_template_routes_to() {
        let template = Template::load_default().unwrap();
        assert_eq!(template.functions(), functions(), "template functions vs local stack");
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
