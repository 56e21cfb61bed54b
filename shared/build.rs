//! The OpenAPI document is kept by hand as YAML (`openapi.yaml`, readable, commented) and served
//! as JSON: converted here, once per build, so no function parses YAML at run time.

fn main() {
    println!("cargo:rerun-if-changed=openapi.yaml");
    let yaml = std::fs::read_to_string("openapi.yaml").expect("shared/openapi.yaml is readable");
    let document: serde_json::Value = serde_norway::from_str(&yaml).expect("shared/openapi.yaml is valid YAML");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&document).expect("JSON")).expect("write openapi.json");
}
