use super::*;

fn root(text: &str) -> Node {
    match parse(text, "f.yaml") {
        Ok(Some(node)) => node,
        other => panic!("expected a document, got {other:?}"),
    }
}

fn syntax_error(text: &str) -> String {
    match parse(text, "f.yaml") {
        Err(problem) => problem.to_string(),
        Ok(node) => panic!("expected an error, got {node:?}"),
    }
}

fn scalar(node: &Node) -> &Scalar {
    node.as_scalar().expect("a scalar")
}

#[test]
fn no_document() {
    for text in ["", "\n\n", "# only a comment\n", "\u{feff}"] {
        assert_eq!(parse(text, "f.yaml"), Ok(None), "{text:?}");
    }
}

#[test]
fn plain_scalars_follow_the_core_schema() {
    let cases: &[(&str, Resolved)] = &[
        ("~", Resolved::Null),
        ("null", Resolved::Null),
        ("true", Resolved::Bool(true)),
        ("FALSE", Resolved::Bool(false)),
        ("yes", Resolved::String),
        ("on", Resolved::String),
        ("8", Resolved::Int(8)),
        ("-12", Resolved::Int(-12)),
        ("0x1F", Resolved::Int(31)),
        ("0o17", Resolved::Int(15)),
        ("1.5", Resolved::Float(1.5)),
        ("1e3", Resolved::Float(1000.0)),
        (".inf", Resolved::Float(f64::INFINITY)),
        ("99999999999999999999", Resolved::Float(1e20)),
        ("2026-12-31", Resolved::String),
        ("0.0.0.0:9898", Resolved::String),
        ("0x", Resolved::String),
        ("cn-hangzhou", Resolved::String),
    ];
    for (text, want) in cases {
        let node = root(&format!("v: {text}\n"));
        let Value::Mapping(entries) = &node.value else {
            panic!("mapping")
        };
        let got = scalar(&entries[0].value);
        assert_eq!(got.resolved, *want, "{text}");
        assert!(got.plain);
        assert_eq!(&*got.text, *text);
    }
    let nan = root("v: .nan\n");
    let Value::Mapping(entries) = &nan.value else {
        panic!("mapping")
    };
    assert!(matches!(scalar(&entries[0].value).resolved, Resolved::Float(f) if f.is_nan()));
}

#[test]
fn quoted_and_tagged_scalars_are_strings() {
    let cases = [
        ("'8'", "8"),
        ("\"true\"", "true"),
        ("!!str 8", "8"),
        ("! 8", "8"),
        ("|\n  8\n", "8\n"),
    ];
    for (text, want) in cases {
        let node = root(text);
        let s = scalar(&node);
        assert_eq!(s.resolved, Resolved::String, "{text}");
        assert!(!s.plain, "{text}");
        assert_eq!(&*s.text, want);
    }
}

#[test]
fn positions_are_one_based_and_point_at_the_node() {
    let node = root("a: 1\nlist:\n  - x\n  - {c: d}\n  - e: f\n    g: h\n");
    assert_eq!(node.mark, Mark { line: 1, column: 1 });
    let Value::Mapping(entries) = &node.value else {
        panic!("mapping")
    };
    assert_eq!(entries[0].value.mark, Mark { line: 1, column: 4 });
    assert_eq!(entries[1].key.mark, Mark { line: 2, column: 1 });
    let Value::Sequence(items) = &entries[1].value.value else {
        panic!("sequence")
    };
    let marks: Vec<Mark> = items.iter().map(|n| n.mark).collect();
    assert_eq!(
        marks,
        [
            Mark { line: 3, column: 5 },
            Mark { line: 4, column: 5 },
            Mark { line: 5, column: 5 },
        ]
    );
}

#[test]
fn an_omitted_value_is_located_at_its_key() {
    let node = root("a:\n\nb: 1\n");
    let Value::Mapping(entries) = &node.value else {
        panic!("mapping")
    };
    assert!(entries[0].value.is_null());
    assert_eq!(entries[0].value.mark, Mark { line: 1, column: 1 });
}

#[test]
fn aliases_copy_the_anchored_node() {
    let node = root("a: &x [1, 2]\nb: *x\n");
    let Value::Mapping(entries) = &node.value else {
        panic!("mapping")
    };
    assert_eq!(entries[0].value.value, entries[1].value.value);
    assert_eq!(entries[1].value.mark, Mark { line: 2, column: 4 });
}

#[test]
fn refused_documents_are_located() {
    let cases = [
        (
            "a: [1, 2\n",
            "f.yaml:2:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'",
        ),
        (
            "a: b: c\n",
            "f.yaml:1:5: invalid YAML: mapping values are not allowed in this context",
        ),
        (
            "--- a\n--- b\n",
            "f.yaml:2:1: a second YAML document starts here; the file must hold exactly one",
        ),
        (
            "a: !!int 3\n",
            "f.yaml:1:10: unsupported YAML tag 'tag:yaml.org,2002:int'",
        ),
        ("a: !custom {}\n", "f.yaml:1:12: unsupported YAML tag '!custom'"),
    ];
    for (text, want) in cases {
        assert_eq!(syntax_error(text), want, "{text:?}");
    }
}

#[test]
fn nesting_and_alias_bombs_are_bounded() {
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert!(syntax_error(&deep).contains("nesting deeper than 128 levels"));

    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            ["b", "c", "d", "e", "f", "g"][i - 1].to_string()
        };
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    assert!(
        syntax_error(&bomb).contains("expands to more than"),
        "{}",
        syntax_error(&bomb)
    );
}

#[test]
fn collector_reports_structure_problems() {
    let node = root("name: x\nname: y\n3: z\nextra: 1\nlist: {}\n");
    let mut c = Collector::new("f.yaml");
    let fields = c.object(&node, "top", &["name", "list", "3"]).expect("mapping");
    assert_eq!(fields.get("name").and_then(Node::as_str), Some("x"));
    c.sequence(fields.get("list").expect("list"), "top.list");
    c.required(&fields, "top", "missing");
    let seq = root("- 1\n");
    c.mapping(&seq, "s");
    let got: Vec<String> = c.into_problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "f.yaml:1:1: top: missing required field 'missing'",
            "f.yaml:1:1: s: expected a mapping, found a sequence",
            "f.yaml:2:1: top: duplicate key 'name' (first at line 1)",
            "f.yaml:4:1: top: unknown field 'extra' (expected one of: name, list, 3)",
            "f.yaml:5:7: top.list: expected a sequence, found a mapping",
        ]
    );
}

#[test]
fn typed_uses_serde_yaml_and_speaks_yaml() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        id: String,
        size: u32,
    }
    let node = root(
        "good: {id: a, size: 3}\nnull: ~\nneg: -1\nfloat: x\nbad: {id: a, size: 3, color: red}\ndup: {id: a, id: b}\n",
    );
    let Value::Mapping(entries) = &node.value else {
        panic!("mapping")
    };
    let mut c = Collector::new("f.yaml");
    assert_eq!(
        c.typed::<Item>(&entries[0].value, "good"),
        Some(Item {
            id: "a".into(),
            size: 3
        })
    );
    assert_eq!(c.typed::<String>(&entries[1].value, "null"), None);
    assert_eq!(c.typed::<u64>(&entries[2].value, "neg"), None);
    assert_eq!(c.typed::<f64>(&entries[3].value, "float"), None);
    assert_eq!(c.typed::<Item>(&entries[4].value, "bad"), None);
    assert_eq!(c.typed::<Item>(&entries[5].value, "dup"), None);
    let got: Vec<String> = c.into_problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "f.yaml:2:7: null: invalid type: null, expected a string",
            "f.yaml:3:6: neg: invalid value: integer `-1`, expected a non-negative integer",
            "f.yaml:4:8: float: invalid type: string \"x\", expected a number",
            "f.yaml:5:6: bad: unknown field `color`, expected `id` or `size`",
            "f.yaml:6:14: dup: duplicate key 'id' (first at line 6)",
        ]
    );
}

#[test]
fn paths_and_quotes() {
    assert_eq!(field("", "accounts"), "accounts");
    assert_eq!(field("accounts[0]", "name"), "accounts[0].name");
    assert_eq!(field("tags", "cost center"), "tags[\"cost center\"]");
    assert_eq!(field("tags", "a\"b"), "tags[\"a\\\"b\"]");
    assert_eq!(item("accounts", 2), "accounts[2]");
    assert_eq!(quote("a\nb'c"), "'a\\nb\\'c'");
}
