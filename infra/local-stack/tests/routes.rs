//! The one route table (each function's `shared::routes!` block) against everything else that names
//! routes: the SAM template, the OpenAPI document and the tenant authorizer's map. Adding a route is
//! its declaration and its handler; a route in one of these and not in the table fails here.

use std::collections::{BTreeMap, BTreeSet};

use local_stack::functions::ROUTE_TABLES;
use local_stack::template::Template;
use shared::http::routes::{Access, Resource, Route};

fn declared() -> Vec<(&'static str, Route)> {
    ROUTE_TABLES.iter().flat_map(|(function, routes)| routes.iter().map(move |r| (*function, *r))).collect()
}

#[test]
fn the_template_serves_every_declared_route_by_its_function_and_no_other() {
    let template = Template::load_default().unwrap();
    let served: BTreeSet<(String, String)> = template.routes.iter().map(|r| (r.key(), r.function.clone())).collect();
    let table: BTreeSet<(String, String)> =
        declared().iter().map(|(function, r)| (r.key.to_string(), function.to_string())).collect();
    let missing: Vec<_> = table.difference(&served).collect();
    assert!(missing.is_empty(), "declared routes the template does not serve (or on another function): {missing:?}");
    let extra: Vec<_> = served.difference(&table).collect();
    assert!(extra.is_empty(), "template routes no function declares: {extra:?}");
}

#[test]
fn a_route_is_declared_once() {
    let mut seen = BTreeSet::new();
    for (function, route) in declared() {
        assert!(seen.insert(route.key), "{} is declared twice (again by {function})", route.key);
        assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&route.method()), "{}", route.key);
        assert!(route.path().starts_with('/'), "{}", route.key);
    }
}

#[test]
fn the_openapi_document_has_exactly_the_declared_routes() {
    let document: serde_json::Value = serde_json::from_str(shared::http::openapi::DOCUMENT).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    let table: BTreeSet<String> = declared().iter().map(|(_, r)| r.key.to_string()).collect();
    let missing: Vec<_> = table.difference(&documented).collect();
    assert!(missing.is_empty(), "declared routes the OpenAPI document lacks: {missing:?}");
    let extra: Vec<_> = documented.difference(&table).collect();
    assert!(extra.is_empty(), "documented routes no function declares: {extra:?}");
}

#[test]
fn the_tenant_authorizer_guards_the_tenant_routes_with_their_declared_actions() {
    let template = Template::load_default().unwrap();
    let tenant: BTreeMap<String, String> = declared()
        .iter()
        .filter_map(|(_, r)| match r.access {
            Access::Tenant { action } => Some((r.key.to_string(), action.to_string())),
            _ => None,
        })
        .collect();
    assert!(!tenant.is_empty(), "the demo tenant route is declared");
    let guarded: BTreeSet<String> =
        template.routes.iter().filter(|r| r.authorizer.is_some()).map(|r| r.key()).collect();
    assert_eq!(guarded, tenant.keys().cloned().collect(), "routes behind the authorizer vs tenant routes");
    let map = template.environment.get("authorizer").and_then(|e| e.get("AUTHORIZER_ROUTE_ACTIONS")).unwrap();
    let map: BTreeMap<String, String> = serde_json::from_str(map).unwrap();
    assert_eq!(map, tenant, "AUTHORIZER_ROUTE_ACTIONS vs the declared tenant routes");
}

#[test]
fn an_org_route_has_the_org_and_the_id_its_resource_names_in_its_path() {
    for (_, route) in declared() {
        let Access::Org { action, resource } = route.access else { continue };
        assert!(route.path().starts_with("/iam/orgs/{orgId}/"), "{}: an org route", route.key);
        assert!(action.as_str().starts_with("iam:"), "{}: {action:?}", route.key);
        let needs = match resource {
            Resource::ApiKey | Resource::Principal | Resource::Member => Some("{principalId}"),
            Resource::Role => Some("{roleId}"),
            Resource::WorkloadTrust => Some("{trustId}"),
            Resource::Fixed(_) => None,
        };
        if let Some(id) = needs {
            assert!(route.path().contains(id), "{}: its resource is named by {id}", route.key);
        }
    }
}
