use serde_json::Value;

use super::json_schema;

/// Every object schema below `value` that lists properties, with its JSON pointer; `if`/`then` branches
/// only narrow the properties of the object they belong to, so they are skipped.
fn objects<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && map.get("type") == Some(&Value::from("object")) {
                out.push((pointer.clone(), value));
            }
            for (key, child) in map {
                if key == "if" || key == "then" {
                    continue;
                }
                objects(child, format!("{pointer}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                objects(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_object_is_closed_like_the_validator() {
    let schema = json_schema();
    let mut found = Vec::new();
    objects(&schema, String::new(), &mut found);
    // The root, every section and every nested mapping with fixed fields.
    assert!(found.len() > 15, "{}", found.len());
    for (pointer, object) in found {
        assert_eq!(
            object.get("additionalProperties"),
            Some(&Value::Bool(false)),
            "{pointer} accepts unknown fields"
        );
    }
}

#[test]
fn every_reference_resolves() {
    let schema = json_schema();
    let text = schema.to_string();
    let definitions = schema["definitions"].as_object().expect("definitions");
    let mut refs = 0;
    for piece in text.split("\"$ref\":\"#/definitions/").skip(1) {
        let name = piece.split('"').next().expect("a name");
        assert!(definitions.contains_key(name), "unresolved $ref to {name}");
        refs += 1;
    }
    assert!(refs > 10, "{refs}");
    // And every definition is used.
    for name in definitions.keys() {
        assert!(
            text.contains(&format!("#/definitions/{name}\"")),
            "unused definition {name}"
        );
    }
}

#[test]
fn the_top_level_and_the_closed_sets_are_the_validators() {
    let schema = json_schema();
    let top: Vec<&str> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = crate::config::validate::TOP.to_vec();
    expected.sort_unstable();
    let mut top = top;
    top.sort_unstable();
    assert_eq!(top, expected);
    let d = &schema["definitions"];
    assert_eq!(
        d["selector"]["properties"]["cloud"]["enum"],
        serde_json::json!(["alibaba", "huawei"])
    );
    assert_eq!(
        d["selector"]["properties"]["type"]["enum"],
        serde_json::json!(["key", "secret"])
    );
    assert_eq!(
        d["reconcile"]["properties"]["mode"]["enum"],
        serde_json::json!(["off", "dry_run", "apply"])
    );
    assert_eq!(d["schedule"]["properties"]["concurrency"]["maximum"], 64);
    // Access keys are named as each cloud names them.
    let access_key = |cloud: &str| {
        d[format!("{cloud}_credentials")]["oneOf"]
            .as_array()
            .expect("variants")
            .iter()
            .find(|v| v["properties"]["type"]["const"] == "access_key")
            .expect("an access_key variant")["required"]
            .clone()
    };
    assert_eq!(
        access_key("alibaba"),
        serde_json::json!(["type", "access_key_id", "access_key_secret"])
    );
    assert_eq!(access_key("huawei"), serde_json::json!(["type", "ak", "sk"]));
}
