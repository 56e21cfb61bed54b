//! Conformance to the OpenAPI document: every response an integration test receives through a
//! template route is checked against the document's entry for that route and status (documented
//! status, media type, body schema with formats, required headers). A response that does not
//! conform fails the test that received it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::Value;

/// The document the stack serves, parsed once.
pub static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(shared::http::openapi::DOCUMENT).expect("the OpenAPI document is JSON"));

type Validators = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;
static VALIDATORS: LazyLock<Validators> = LazyLock::new(Default::default);

/// Follows a local `$ref` (`#/components/...`) if `value` is one.
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => resolve(DOCUMENT.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref #{pointer}"))),
        None => value,
    }
}

/// The operation object of `method path` (the template's path, e.g. `/iam/orgs/{orgId}/roles`).
pub fn operation(method: &str, path: &str) -> Option<&'static Value> {
    DOCUMENT["paths"].get(path)?.get(method.to_ascii_lowercase())
}

/// A validator for `schema` with the whole document as its root, so its `$ref`s resolve.
fn validator(key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    let mut cache = VALIDATORS.lock().expect("validator cache");
    cache
        .entry(key.to_string())
        .or_insert_with(|| {
            let mut root = DOCUMENT.clone();
            root["x-checked"] = schema.clone();
            root["$ref"] = Value::String("#/x-checked".into());
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("the schema of {key} does not compile: {e}"));
            Arc::new(validator)
        })
        .clone()
}

/// Whether `instance` is valid by the document's `#/components/schemas/<name>`.
pub fn schema_accepts(name: &str, instance: &Value) -> bool {
    let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
    validator(&format!("#/components/schemas/{name}"), &schema).iter_errors(instance).next().is_none()
}

/// Checks one response of `method path` against the document; `Err` says what does not conform.
pub fn check(method: &str, path: &str, status: u16, headers: &http::HeaderMap, body: &[u8]) -> Result<(), String> {
    let op = operation(method, path).ok_or_else(|| format!("{method} {path} is not in the OpenAPI document"))?;
    let responses = &op["responses"];
    let class = format!("{}XX", status / 100);
    let response = [status.to_string(), class, "default".into()]
        .iter()
        .find_map(|k| responses.get(k))
        .map(resolve)
        .ok_or_else(|| format!("status {status} is not documented"))?;
    for (name, header) in response.get("headers").and_then(Value::as_object).into_iter().flatten() {
        let header = resolve(header);
        match headers.get(name.as_str()).map(|v| v.to_str().unwrap_or_default()) {
            None if header["required"] == true => {
                return Err(format!("status {status}: required header {name} is missing"));
            }
            None => {}
            Some(value) => {
                let Some(schema) = header.get("schema") else { continue };
                let key = format!("{method} {path} {status} header {name}");
                if let Some(e) = validator(&key, schema).iter_errors(&Value::String(value.into())).next() {
                    return Err(format!("status {status}: header {name}: {value:?} does not match its schema: {e}"));
                }
            }
        }
    }
    let content = response.get("content").and_then(Value::as_object);
    let media = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match (content, media) {
        (None, _) if body.is_empty() => Ok(()),
        (None, _) => Err(format!("status {status} is documented without a body, but one was sent")),
        (Some(_), None) => Err(format!("status {status}: no Content-Type")),
        (Some(content), Some(media)) => {
            let entry = content
                .get(&media)
                .ok_or_else(|| format!("status {status}: Content-Type {media} is not documented"))?;
            let Some(schema) = entry.get("schema") else { return Ok(()) };
            // A JSON body is checked as JSON; any other (text/csv) as the string it is.
            let instance: Value = if media == "application/json" || media.ends_with("+json") {
                serde_json::from_slice(body)
                    .map_err(|e| format!("status {status}: the {media} body is not JSON ({e})"))?
            } else {
                Value::String(
                    String::from_utf8(body.to_vec())
                        .map_err(|e| format!("status {status}: the {media} body is not UTF-8 ({e})"))?,
                )
            };
            let key = format!("{method} {path} {status} {media}");
            let errors: Vec<String> = validator(&key, schema)
                .iter_errors(&instance)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "status {status}: the body does not match the schema: {}; body: {instance}",
                    errors.join("; ")
                ))
            }
        }
    }
}
