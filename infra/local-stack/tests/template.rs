//! The SAM template against the contract and against what cfn-lint does not check.

use std::collections::BTreeSet;

use local_stack::template::Template;
use serde_norway::Value;

/// Every route of `../shared/contract/API.md` (and the issues that extend it), as `METHOD /path`.
const CONTRACT_ROUTES: &[&str] = &[
    "POST /iam/auth/token",
    "GET /iam/.well-known/jwks.json",
    "GET /iam/.well-known/oauth-authorization-server",
    "PATCH /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}",
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/roll",
    "POST /iam/orgs/{orgId}/api-keys",
    "GET /iam/orgs/{orgId}/api-keys",
    "GET /iam/orgs/{orgId}/api-keys/{principalId}",
    "PATCH /iam/orgs/{orgId}/api-keys/{principalId}",
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials",
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials",
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke",
    "GET /iam/orgs/{orgId}/roles",
    "POST /iam/orgs/{orgId}/roles",
    "GET /iam/orgs/{orgId}/roles/{roleId}",
    "PATCH /iam/orgs/{orgId}/roles/{roleId}",
    "DELETE /iam/orgs/{orgId}/roles/{roleId}",
    "GET /iam/orgs/{orgId}/roles/{roleId}/assignments",
    "PUT /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}",
    "GET /iam/orgs/{orgId}/principals/{principalId}/role-assignments",
    "DELETE /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}",
    "POST /iam/orgs/{orgId}/members",
    "GET /iam/orgs/{orgId}/members",
    "DELETE /iam/orgs/{orgId}/members/{principalId}",
    "GET /iam/orgs/{orgId}/settings",
    "PATCH /iam/orgs/{orgId}/settings",
    "GET /iam/orgs/{orgId}/audit-events",
    "GET /iam/orgs/{orgId}/credential-report",
    "POST /iam/secret-scanning/reports",
    "POST /iam/orgs/{orgId}/authorize",
    "GET /admin/developer",
];

/// Routes the template may hold beyond the contract: the tenant-API demo behind the authorizer, the
/// OpenAPI document (issue #7), the signed-in member's organisations (the console's org picker,
/// issue 14) and the revocation of a principal's issued tokens (issue 16).
const EXTRA_ROUTES: &[&str] = &[
    "GET /demo/whoami",
    "GET /iam/openapi.json",
    "GET /iam/me",
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/revoke-tokens",
    "POST /iam/auth/introspect",
    "POST /iam/auth/revoke",
    "GET /.well-known/oauth-authorization-server/iam",
    // Keyless workloads: the workload trusts and the test of a token against one.
    "GET /iam/orgs/{orgId}/workload-trusts",
    "POST /iam/orgs/{orgId}/workload-trusts",
    "GET /iam/orgs/{orgId}/workload-trusts/{trustId}",
    "PATCH /iam/orgs/{orgId}/workload-trusts/{trustId}",
    "DELETE /iam/orgs/{orgId}/workload-trusts/{trustId}",
    "POST /iam/orgs/{orgId}/workload-trusts/{trustId}/test",
    // A key's usage and recent requests, and the org's busiest and most-refused keys.
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/usage",
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/recent-requests",
    "GET /iam/orgs/{orgId}/usage/top-keys",
];

#[test]
fn every_contract_route_is_in_the_template_and_nothing_else() {
    let template = Template::load_default().unwrap();
    let served: BTreeSet<String> = template.routes.iter().map(|r| r.key()).collect();
    let contract: BTreeSet<String> = CONTRACT_ROUTES.iter().map(|r| r.to_string()).collect();
    let missing: Vec<_> = contract.difference(&served).collect();
    assert!(missing.is_empty(), "contract routes missing from the template: {missing:?}");
    let extra: Vec<_> = served.difference(&contract).filter(|r| !EXTRA_ROUTES.contains(&r.as_str())).collect();
    assert!(extra.is_empty(), "template routes the contract does not have: {extra:?}");
}

/// Paths the contract's "Added after the first build" names whose issue is still open: each
/// leaves this list when its route is built (and joins `CONTRACT_ROUTES`).
const NOT_BUILT_YET: &[(&str, &str)] = &[];

#[test]
fn the_contract_document_lists_no_route_this_test_does_not_know() {
    // When ../shared is beside the repository (CI, developers), every `/iam/...` or `/admin/...`
    // path the contract mentions must be one of ours.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/contract/API.md");
    let Ok(text) = std::fs::read_to_string(&path) else { return };
    let mut known: Vec<String> = CONTRACT_ROUTES.iter().map(|r| r.split_once(' ').unwrap().1.to_string()).collect();
    known.extend(NOT_BUILT_YET.iter().map(|(path, _)| path.to_string()));
    for word in text.split(['`', ' ', '(', ')']) {
        let path = word.split('?').next().unwrap_or_default().trim_end_matches([',', '.', ':']);
        if !(path.starts_with("/iam/") || path.starts_with("/admin/")) || path.contains("...") || path.ends_with('/') {
            continue;
        }
        // `…/role-assignments[/{roleId}]` names two routes.
        let (base, optional) = match path.split_once('[') {
            Some((base, rest)) => (base.to_string(), Some(format!("{base}{}", rest.trim_end_matches(']')))),
            None => (path.to_string(), None),
        };
        for candidate in std::iter::once(base).chain(optional) {
            assert!(known.contains(&candidate), "the contract names {candidate}, which no route serves");
        }
    }
}

#[test]
fn every_function_is_a_rust_lambda_for_arm64_on_al2023() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let globals = &doc["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut functions = 0;
    for (name, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let name = name.as_str().unwrap();
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name}");
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert!(root.join(format!("functions/{binary}/Cargo.toml")).exists(), "{name}: no crate functions/{binary}");
        assert!(resource["Properties"].get("Runtime").is_none(), "{name}: the runtime comes from Globals");
        assert_eq!(resource["Properties"]["CodeUri"].as_str(), Some(".."), "{name}: the workspace root");
    }
    let crates = std::fs::read_dir(root.join("functions")).unwrap().count();
    assert_eq!(functions, crates, "every function crate is deployed, and only those");
}

#[test]
fn the_tenant_authorizer_keys_on_the_route_and_caches_nothing() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let authorizer = &doc["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["TenantAuthorizer"];
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"].as_str(), Some("2.0"));
    assert_eq!(authorizer["EnableSimpleResponses"].as_bool(), Some(true));
    let identity = &authorizer["Identity"];
    assert!(identity["Context"].as_sequence().unwrap().iter().any(|c| c.as_str() == Some("routeKey")));
    assert!(identity["Headers"].as_sequence().unwrap().iter().any(|h| h.as_str() == Some("Authorization")));
    assert_eq!(identity["ReauthorizeEvery"].as_u64(), Some(0));
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => text_of(&tagged.value),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

fn resource_kind(value: &Value) -> String {
    let text = text_of(value);
    if text.contains("/index/GSI1") {
        "GSI1".into()
    } else if text.contains("/index/GSI2") {
        "GSI2".into()
    } else if text.contains("/index/GSI3") {
        "GSI3".into()
    } else if text.contains("Table.Arn") {
        "Table".into()
    } else {
        text
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

#[test]
fn the_policies_are_the_ones_this_table_lists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let section = doc.split("## Least privilege").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut documented = std::collections::BTreeMap::new();
    for line in
        section.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| function") && !l.starts_with("|---"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (name, actions, on, secrets) = (cells[0], cells[1], cells[2], cells[3]);
        let mut pairs = BTreeSet::new();
        for (group, resources) in actions.split(';').zip(on.split(';')) {
            for action in group.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                for resource in resources.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    pairs.insert(format!("dynamodb:{action} on {resource}"));
                }
            }
        }
        documented.insert(name.to_string(), (pairs, secrets.to_string()));
    }

    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let template: Value = serde_norway::from_str(&text).unwrap();
    let mut seen = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap().to_string();
        let (expected, secrets) = documented.get(&name).unwrap_or_else(|| panic!("{name} is not in the table"));
        let mut pairs = BTreeSet::new();
        let mut secret_resources = String::new();
        let mut events = String::new();
        for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                let actions: Vec<String> = as_list(&statement["Action"]).iter().map(text_of).collect();
                for action in &actions {
                    if action.starts_with("dynamodb:") {
                        for r in as_list(&statement["Resource"]) {
                            pairs.insert(format!("{action} on {}", resource_kind(&r)));
                        }
                    } else if action.starts_with("events:") {
                        events.push_str(action);
                    } else {
                        secret_resources.push_str(&text_of(&statement["Resource"]));
                        assert!(action.starts_with("secretsmanager:"), "{name}: unexpected action {action}");
                    }
                }
            }
        }
        assert_eq!(&pairs, expected, "{name}: the template's DynamoDB grants differ from docs/operations.md");
        if secrets.contains("iam/infuse-iot/*") {
            assert!(secret_resources.contains("iam/infuse-iot/*"), "{name}: the Infuse IoT secrets");
        } else {
            assert!(!secret_resources.contains("infuse-iot"), "{name}: reads Infuse IoT secrets it does not list");
        }
        assert_eq!(
            secrets.contains("events:PutEvents"),
            events.contains("events:PutEvents"),
            "{name}: its EventBridge grant differs from docs/operations.md"
        );
        if secrets.contains("signing keys only") {
            assert!(!secret_resources.contains("PepperSecret"), "{name}: reads the pepper");
        }
        seen.insert(name);
    }
    let listed: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(seen, listed, "the table lists exactly the template's functions");
}

/// CloudFront's managed cache policy `Managed-CachingDisabled`.
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

fn origin<'a>(distribution: &'a Value, id: &str) -> &'a Value {
    distribution["Origins"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|o| o["Id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("the distribution has no origin {id}"))
}

#[test]
fn the_console_is_a_private_bucket_served_on_the_apis_own_origin() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let resources = &doc["Resources"];

    let bucket = &resources["ConsoleBucket"];
    assert_eq!(bucket["Type"].as_str(), Some("AWS::S3::Bucket"));
    let block = &bucket["Properties"]["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[setting].as_bool(), Some(true), "ConsoleBucket: {setting}");
    }
    // The bucket lets in this distribution only, through its origin access control.
    let statements = &resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let mut allows = 0;
    for statement in statements.as_sequence().into_iter().flatten() {
        if statement["Effect"].as_str() != Some("Allow") {
            continue;
        }
        allows += 1;
        assert_eq!(statement["Principal"]["Service"].as_str(), Some("cloudfront.amazonaws.com"));
        let source = text_of(&statement["Condition"]["StringEquals"]["AWS:SourceArn"]);
        assert!(source.contains("distribution/${Distribution}"), "the bucket trusts another distribution: {source}");
    }
    assert!(allows > 0, "nothing may read the console bucket");

    let distribution = &resources["Distribution"]["Properties"]["DistributionConfig"];

    // Everything but the console is the HTTP API, never cached.
    let default = &distribution["DefaultCacheBehavior"];
    let api = origin(distribution, default["TargetOriginId"].as_str().unwrap());
    assert!(text_of(&api["DomainName"]).starts_with("${HttpApi}.execute-api."), "not the HTTP API: {api:?}");
    assert_eq!(api["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(), Some("https-only"));
    assert_eq!(default["CachePolicyId"].as_str(), Some(CACHING_DISABLED), "the API is never cached");

    // /console/* is the bucket, signed by the origin access control, read-only.
    let console = distribution["CacheBehaviors"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|b| b["PathPattern"].as_str() == Some("/console/*"))
        .expect("a /console/* behaviour");
    let files = origin(distribution, console["TargetOriginId"].as_str().unwrap());
    assert_eq!(text_of(&files["DomainName"]), "ConsoleBucket.RegionalDomainName");
    assert_eq!(text_of(&files["OriginAccessControlId"]), "ConsoleOriginAccessControl.Id");
    assert_eq!(resources["ConsoleOriginAccessControl"]["Type"].as_str(), Some("AWS::CloudFront::OriginAccessControl"));
    let methods: Vec<String> = as_list(&console["AllowedMethods"]).iter().map(text_of).collect();
    assert_eq!(methods, ["GET", "HEAD"]);

    // Its CSP runs no inline script and lets no page frame the console.
    let headers = text_of(&console["ResponseHeadersPolicyId"]);
    let policy = &resources[headers.as_str()]["Properties"]["ResponseHeadersPolicyConfig"];
    let csp = text_of(&policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]);
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"frame-ancestors 'none'"), "{csp}");
    assert!(directives.contains(&"script-src 'self'"), "{csp}");
    assert!(!csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"), "{csp}");

    let url = text_of(&doc["Outputs"]["ConsoleUrl"]["Value"]);
    assert_eq!(url, "https://${Distribution.DomainName}/console/");
}

#[test]
fn the_stage_throttles_every_route_and_the_token_exchange_more_tightly() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let api = &doc["Resources"]["HttpApi"]["Properties"];
    let limits = |settings: &Value| {
        let rate = settings["ThrottlingRateLimit"].as_f64().expect("ThrottlingRateLimit");
        let burst = settings["ThrottlingBurstLimit"].as_u64().expect("ThrottlingBurstLimit");
        assert!(rate > 0.0 && burst > 0, "a limit of 0 refuses everything: {settings:?}");
        (rate, burst)
    };
    let (rate, burst) = limits(&api["DefaultRouteSettings"]);
    let routes = api["RouteSettings"].as_mapping().expect("RouteSettings");
    let token = routes.get("POST /iam/auth/token").expect("a route setting for the token exchange");
    let (token_rate, token_burst) = limits(token);
    assert!(token_rate < rate && token_burst < burst, "the token exchange is throttled more tightly");
    // Route settings are keyed by route key: a key the API does not have fails the deployment.
    let served: BTreeSet<String> = Template::load_default().unwrap().routes.iter().map(|r| r.key()).collect();
    for key in routes.keys() {
        assert!(served.contains(key.as_str().unwrap()), "RouteSettings names {key:?}, which is no route");
    }
}

/// The private signing keys are TokenExchange's (it signs) and SigningKeyRotation's (it makes
/// them) alone: no other function is granted their secret or told its name; every function that
/// verifies reads the public half.
#[test]
fn only_the_token_exchange_and_the_rotation_can_read_the_private_signing_keys() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let globals = &doc["Globals"]["Function"]["Environment"]["Variables"];
    assert!(globals.get("SIGNING_KEYS_SECRET_ID").is_none(), "no function is told the private secret by Globals");
    assert!(globals.get("VERIFICATION_KEYS_SECRET_ID").is_some(), "every function is told the public half");
    let mut readers = BTreeSet::new();
    for (name, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap().to_string();
        let granted = format!("{:?}", resource["Properties"]["Policies"]);
        let told = resource["Properties"]["Environment"]["Variables"].get("SIGNING_KEYS_SECRET_ID").is_some();
        if granted.contains("SigningKeysSecret") {
            readers.insert(name.clone());
        }
        assert_eq!(told, name == "TokenExchange", "{name}: told the private signing keys' secret");
    }
    let expected: BTreeSet<String> = ["SigningKeyRotation", "TokenExchange"].into_iter().map(String::from).collect();
    assert_eq!(readers, expected);
}

#[test]
fn the_first_deploy_starts_no_rotation_before_the_keys_are_seeded() {
    let text = std::fs::read_to_string(local_stack::template::default_path()).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let schedule = &doc["Resources"]["SigningKeysRotationSchedule"]["Properties"];
    // CloudFormation's default (true) rotates when the stack is created, before `iam-admin
    // seed-signing-keys` has written a current version: that rotation would fail.
    assert_eq!(schedule["RotateImmediatelyOnUpdate"].as_bool(), Some(false));
    assert_eq!(schedule["RotationRules"]["AutomaticallyAfterDays"].as_u64(), Some(30));
}
