//! The template, the local stack and the functions agree on the routes.

use iam_tests::TestApp;

#[tokio::test]
async fn every_route_of_the_template_is_served_by_its_function() {
    let app = TestApp::new().await;
    for route in &app.template.routes {
        let path = route
            .path
            .replace("{orgId}", app.org.as_str())
            .replace("{principalId}", app.admin.as_str())
            .replace("{keyId}", &app.admin_key[3..23]);
        // Without credentials a served route answers 401 (the JWKS, metadata and OpenAPI documents
        // are public: 200); a function that does not serve the route it is wired to would answer 404
        // route_not_found.
        let r = app.call(&route.method, &path, None, None).await;
        let public = [
            "/iam/.well-known/jwks.json",
            "/iam/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/iam",
            "/iam/openapi.json",
        ];
        if public.contains(&route.path.as_str()) {
            assert_eq!(r.status, 200);
        } else if route.path == "/iam/secret-scanning/reports" {
            // The scanner's route authenticates by the report's signature.
            assert_eq!((r.status, r.code()), (401, "invalid_signature"));
        } else if route.authorizer.is_some() {
            assert_eq!((r.status, r.body["message"].as_str()), (401, Some("Unauthorized")), "{}", route.path);
        } else {
            assert_eq!((r.status, r.code()), (401, "missing_credentials"), "{} {}", route.method, route.path);
        }
    }
}

#[tokio::test]
async fn a_path_outside_the_template_gets_api_gateways_not_found() {
    let app = TestApp::new().await;
    for (method, path) in [("GET", "/iam/orgs"), ("DELETE", &*app.org_path("/api-keys")), ("GET", "/")] {
        let r = app.call(method, path, Some(&app.admin_key.clone()), None).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.body["message"], "Not Found");
    }
}
