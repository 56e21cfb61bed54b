//! Reads `infra/template.yaml`: the HTTP API routes of each function, and the table's definition.
//! The local stack and the tests take both from here, so the template is the only source.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde_norway::Value;

/// One route of the HTTP API: `POST /iam/orgs/{orgId}/api-keys` served by function `principals`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// The function's binary (and crate) name, from `Metadata.BuildProperties.Binary`.
    pub function: String,
    /// The binary of the Lambda authorizer in front of the route, if it has one.
    pub authorizer: Option<String>,
}

impl Route {
    /// API Gateway's route key, `METHOD /path`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Matches a concrete path against this route's template, returning the path parameters
    /// (percent-decoded, as API Gateway passes them).
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, a) in pattern.iter().zip(&actual) {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if a.is_empty() {
                    return None;
                }
                let decoded = percent_encoding::percent_decode_str(a).decode_utf8().ok()?;
                params.push((name.to_string(), decoded.into_owned()));
            } else if p != a {
                return None;
            }
        }
        Some(params)
    }
}

/// The parts of the SAM template the local stack needs.
#[derive(Clone, Debug)]
pub struct Template {
    pub routes: Vec<Route>,
    /// The `AWS::DynamoDB::Table` resource's `Properties`, as written.
    pub table: Value,
    /// Each function's own environment variables (string values), by binary name.
    pub environment: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

/// `infra/template.yaml` of this workspace.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

impl Template {
    /// Loads and reads a template file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Self::parse(&text)
    }

    /// Loads this workspace's template.
    pub fn load_default() -> anyhow::Result<Self> {
        Self::load(&default_path())
    }

    /// Reads template text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let doc: Value = serde_norway::from_str(text).context("parse the template as YAML")?;
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or_else(|| anyhow!("no Resources"))?;
        let binary_of = |logical: &str| {
            resources
                .get(logical)
                .and_then(|r| r.get("Metadata"))
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        // Authorizer name → the binary of its function (`FunctionArn: !GetAtt <Resource>.Arn`).
        let mut authorizers = std::collections::HashMap::new();
        for (_, resource) in resources {
            let declared = resource.get("Properties").and_then(|p| p.get("Auth")).and_then(|a| a.get("Authorizers"));
            for (name, authorizer) in declared.and_then(Value::as_mapping).into_iter().flatten() {
                let arn = match authorizer.get("FunctionArn") {
                    Some(Value::Tagged(tagged)) => tagged.value.as_str().map(String::from),
                    _ => None,
                };
                let logical = arn.as_deref().and_then(|a| a.strip_suffix(".Arn")).map(String::from);
                if let (Some(name), Some(binary)) = (name.as_str(), logical.as_deref().and_then(binary_of)) {
                    authorizers.insert(name.to_string(), binary);
                }
            }
        }
        let mut routes = Vec::new();
        let mut table = None;
        let mut environment = std::collections::HashMap::new();
        for (name, resource) in resources {
            let name = name.as_str().unwrap_or_default();
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Function") => {
                    routes.extend(function_routes(name, resource, &authorizers)?);
                    if let Some(binary) = binary_of(name) {
                        let vars = resource
                            .get("Properties")
                            .and_then(|p| p.get("Environment"))
                            .and_then(|e| e.get("Variables"))
                            .and_then(Value::as_mapping)
                            .into_iter()
                            .flatten()
                            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                            .collect();
                        environment.insert(binary, vars);
                    }
                }
                Some("AWS::DynamoDB::Table") => {
                    if table.is_some() {
                        bail!("the template has more than one table; the design is single-table");
                    }
                    table = resource.get("Properties").cloned();
                }
                _ => {}
            }
        }
        let mut seen = std::collections::HashSet::new();
        for route in &routes {
            if !route.path.starts_with('/') {
                bail!("route {} does not start with /", route.key());
            }
            if !seen.insert(route.key()) {
                bail!("route {} is declared twice", route.key());
            }
        }
        Ok(Self {
            routes,
            table: table.ok_or_else(|| anyhow!("the template has no AWS::DynamoDB::Table"))?,
            environment,
        })
    }

    /// The route serving `method path`, and its path parameters.
    pub fn route_for(&self, method: &str, path: &str) -> Option<(&Route, Vec<(String, String)>)> {
        self.routes.iter().find_map(|r| r.matches(method, path).map(|params| (r, params)))
    }

    /// The distinct function names the routes name.
    pub fn functions(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routes.iter().map(|r| r.function.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn function_routes(
    name: &str,
    resource: &Value,
    authorizers: &std::collections::HashMap<String, String>,
) -> anyhow::Result<Vec<Route>> {
    let binary = resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("function {name} has no Metadata.BuildProperties.Binary"))?;
    let Some(events) = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping) else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for (event_name, event) in events {
        if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
            continue;
        }
        let props = event.get("Properties").ok_or_else(|| anyhow!("{name}.{event_name:?} has no Properties"))?;
        let field = |f: &str| {
            props.get(f).and_then(Value::as_str).map(String::from).ok_or_else(|| anyhow!("{name} event without {f}"))
        };
        let authorizer = match props.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Value::as_str) {
            None => None,
            Some(auth) => Some(
                authorizers.get(auth).cloned().ok_or_else(|| anyhow!("{name}: authorizer {auth} is not declared"))?,
            ),
        };
        routes.push(Route {
            method: field("Method")?.to_ascii_uppercase(),
            path: field("Path")?,
            function: binary.to_string(),
            authorizer,
        });
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates_only() {
        let route = Route {
            method: "GET".into(),
            path: "/iam/orgs/{orgId}/api-keys/{principalId}".into(),
            function: "p".into(),
            authorizer: None,
        };
        assert_eq!(
            route.matches("GET", "/iam/orgs/org_1/api-keys/akp%5F2"),
            Some(vec![("orgId".into(), "org_1".into()), ("principalId".into(), "akp_2".into())])
        );
        assert_eq!(route.matches("POST", "/iam/orgs/org_1/api-keys/akp_2"), None);
        assert_eq!(route.matches("GET", "/iam/orgs/org_1/api-keys"), None);
        assert_eq!(route.matches("GET", "/iam/orgs//api-keys/x"), None);
    }

    #[test]
    fn this_workspace_template_reads() {
        let t = Template::load_default().unwrap();
        assert!(t.routes.iter().any(|r| r.key() == "POST /iam/orgs/{orgId}/api-keys"));
        assert!(t.table.get("KeySchema").is_some());
        let whoami = t.routes.iter().find(|r| r.key() == "GET /demo/whoami").unwrap();
        assert_eq!(whoami.authorizer.as_deref(), Some("authorizer"));
        assert!(t.environment["authorizer"]["AUTHORIZER_ROUTE_ACTIONS"].contains("demo:whoami:read"));
    }
}
