//! Behaviour of the action engine: the upstream README examples as golden
//! input → output, every action on every value type, and the config errors.

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::config::yaml_value;
use super::*;
use crate::component::ConfigIssue;

/// Actions from YAML (the list under `actions:`).
fn actions(yaml: &str) -> Result<Actions, Vec<ConfigIssue>> {
    let list: Vec<ActionConfig> = serde_yaml_ng::from_str(yaml).unwrap();
    compile("actions", &list)
}

/// An attribute map from a YAML mapping, in order, values typed as YAML types.
/// `!!binary` is not available, so bytes are added by hand where needed.
fn map(yaml: &str) -> Vec<KeyValue> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut report = |_: &str, m: String| panic!("{m}");
    let any = yaml_value(&v, "", &mut report).unwrap();
    match any.value {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::KvlistValue(l)) => l.values,
        None => Vec::new(),
        other => panic!("not a map: {other:?}"),
    }
}

fn run(actions_yaml: &str, input: &str) -> Vec<KeyValue> {
    let a = actions(actions_yaml).unwrap();
    let mut attrs = map(input);
    let before = attrs.clone();
    let would = a.would_change(&attrs);
    a.apply(&mut attrs);
    assert_eq!(would, attrs != before, "would_change agrees with apply");
    attrs
}

fn check(actions_yaml: &str, input: &str, want: &str) {
    assert_eq!(
        run(actions_yaml, input),
        map(want),
        "actions {actions_yaml}\ninput {input}"
    );
}

fn bytes(k: &str, b: &[u8]) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Av::BytesValue(b.to_vec())),
        }),
        ..Default::default()
    }
}

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::AnyValue;

#[test]
fn readme_example_of_every_action() {
    // The upstream attributes README's action list, on a span carrying each key.
    check(
        r#"
- { key: db.table, action: delete }
- { key: redacted_span, value: true, action: upsert }
- { key: copy_key, from_attribute: key_original, action: update }
- { key: account_id, value: 2245, action: insert }
- { key: account_password, action: delete }
- { key: account_email, action: hash }
- { key: http.status_code, action: convert, converted_type: int }
"#,
        "{db.table: users, copy_key: old, key_original: new, account_password: secret, \
          account_email: john@example.com, http.status_code: '200'}",
        "{copy_key: new, key_original: new, \
          account_email: 855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4, \
          http.status_code: 200, redacted_span: true, account_id: 2245}",
    );
}

#[test]
fn readme_example_of_resource_actions() {
    check(
        r#"
- { key: cloud.availability_zone, value: zone-1, action: upsert }
- { key: k8s.cluster.name, from_attribute: k8s-cluster, action: insert }
- { key: redundant-attribute, action: delete }
"#,
        "{cloud.availability_zone: zone-0, k8s-cluster: prod, redundant-attribute: x}",
        "{cloud.availability_zone: zone-1, k8s-cluster: prod, k8s.cluster.name: prod}",
    );
}

#[test]
fn readme_extract_example() {
    // Upstream's README pattern has an unnamed group `(\?|\&)`, which upstream
    // itself refuses; with the group made non-capturing it works as documented.
    let e = actions(
        r#"[{ key: http.url, action: extract,
              pattern: '^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(\?|\&)(?P<http_query_params>.*)' }]"#,
    )
    .unwrap_err();
    assert_eq!(e[0].path, "actions[0]::pattern");
    check(
        r#"[{ key: http.url, action: extract,
              pattern: '^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(?:\?|\&)(?P<http_query_params>.*)' }]"#,
        "{http.url: 'http://example.com/path?queryParam1=value1,queryParam2=value2', http_path: old}",
        "{http.url: 'http://example.com/path?queryParam1=value1,queryParam2=value2', http_path: path, \
          http_protocol: http, http_domain: example.com, \
          http_query_params: 'queryParam1=value1,queryParam2=value2'}",
    );
}

#[test]
fn insert_update_upsert_with_every_value_type() {
    let every = r#"
- { key: s, value: str, action: ACTION }
- { key: i, value: -7, action: ACTION }
- { key: d, value: 2.5, action: ACTION }
- { key: b, value: false, action: ACTION }
- { key: l, value: [1, x, [true]], action: ACTION }
- { key: m, value: { k: v, n: { z: 1.0 } }, action: ACTION }
"#;
    let all = "{s: str, i: -7, d: 2.5, b: false, l: [1, x, [true]], m: { k: v, n: { z: 1.0 } }}";
    let some = "{i: 0, m: old}";
    // insert: only absent keys.
    check(
        &every.replace("ACTION", "insert"),
        some,
        "{i: 0, m: old, s: str, d: 2.5, b: false, l: [1, x, [true]]}",
    );
    // update: only present keys.
    check(
        &every.replace("ACTION", "update"),
        some,
        "{i: -7, m: { k: v, n: { z: 1.0 } }}",
    );
    // upsert: always, existing keys in place.
    check(
        &every.replace("ACTION", "upsert"),
        some,
        "{i: -7, m: { k: v, n: { z: 1.0 } }, s: str, d: 2.5, b: false, l: [1, x, [true]]}",
    );
    check(&every.replace("ACTION", "upsert"), all, all);
}

#[test]
fn from_attribute_copies_with_its_type_and_default_value_fills_in() {
    let a = r#"
- { key: to, from_attribute: from, action: upsert }
- { key: ins, from_attribute: missing, action: insert }
- { key: dflt, from_attribute: missing, default_value: 42, action: upsert }
"#;
    check(a, "{from: [1, 2]}", "{from: [1, 2], to: [1, 2], dflt: 42}");
    check(a, "{from: 1.5, to: x}", "{from: 1.5, to: 1.5, dflt: 42}");
    // Duplicate keys: the first one is read and updated.
    let mut attrs = map("{a: 1}");
    attrs.extend(map("{a: 2}"));
    actions("[{ key: a, value: 9, action: update }]")
        .unwrap()
        .apply(&mut attrs);
    assert_eq!(attrs, [map("{a: 9}"), map("{a: 2}")].concat());
}

#[test]
fn delete_removes_the_key_every_duplicate_and_pattern_matches() {
    let mut attrs = map("{a: 1, secret_1: x, b: 2, secret_2: y}");
    attrs.extend(map("{a: dup}"));
    actions("[{ key: a, pattern: '^secret_', action: delete }]")
        .unwrap()
        .apply(&mut attrs);
    assert_eq!(attrs, map("{b: 2}"));
    check("[{ key: absent, action: delete }]", "{b: 2}", "{b: 2}");
    // Unanchored: `cret` matches inside the key.
    check(
        "[{ pattern: cret, action: delete }]",
        "{secret: 1, b: 2}",
        "{b: 2}",
    );
}

#[test]
fn hash_digests_every_value_type_as_upstream() {
    let mut attrs = map(
        "{s: hello, i: -1, d: 1.5, t: true, f: false, e: '', l: [1], m: {k: v}, n: null, keep: x}",
    );
    attrs.push(bytes("bin", b"\x01\x02"));
    actions("[{ pattern: '^[^k]', action: hash }, { key: absent, action: hash }]")
        .unwrap()
        .apply(&mut attrs);
    let mut want = map(
        "{s: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, \
          i: 12a3ae445661ce5dee78d0650d33362dec29c4f82af05e7e57fb595bbbacf0ca, \
          d: e163f8cb0f7067a7fc78ca859a77f849aea3214f38fb75b884e4a16be725c905, \
          t: 4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a, \
          f: 6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d, \
          e: '', l: '', m: '', n: '', keep: x}",
    );
    want.extend(map("{bin: ''}"));
    assert_eq!(attrs, want);
}

#[test]
fn extract_writes_named_groups_as_strings() {
    let a = "[{ key: u, pattern: '(?P<user>[a-z]+)(?:@(?P<host>[a-z.]+))?', action: extract }]";
    // First unanchored match; a group that did not take part writes "".
    check(
        a,
        "{u: '42 bob', host: old}",
        "{u: '42 bob', host: '', user: bob}",
    );
    check(
        a,
        "{u: '1 ann@ex.com'}",
        "{u: '1 ann@ex.com', user: ann, host: ex.com}",
    );
    // No match, non-string source, absent source: no change.
    check(a, "{u: '123'}", "{u: '123'}");
    check(a, "{u: 5}", "{u: 5}");
    check(a, "{v: abc}", "{v: abc}");
}

#[test]
fn convert_each_type_to_each_target() {
    let to = |t: &str| format!("[{{ key: v, action: convert, converted_type: {t} }}]");
    let cases = [
        ("int", "{v: 1.9}", "{v: 1}"),
        ("int", "{v: -1.9}", "{v: -1}"),
        ("int", "{v: 1.0e30}", "{v: 9223372036854775807}"),
        ("int", "{v: .nan}", "{v: 0}"),
        ("int", "{v: true}", "{v: 1}"),
        ("int", "{v: '+12'}", "{v: 12}"),
        ("int", "{v: '1.0'}", "{v: '1.0'}"),
        ("int", "{v: abc}", "{v: abc}"),
        ("int", "{v: [1]}", "{v: [1]}"),
        ("int", "{v: 3}", "{v: 3}"),
        ("double", "{v: 3}", "{v: 3.0}"),
        ("double", "{v: false}", "{v: 0.0}"),
        ("double", "{v: '2.5e3'}", "{v: 2500.0}"),
        ("double", "{v: 'x'}", "{v: 'x'}"),
        ("double", "{v: {a: 1}}", "{v: {a: 1}}"),
        ("string", "{v: 3}", "{v: '3'}"),
        ("string", "{v: 0.5}", "{v: '0.5'}"),
        ("string", "{v: true}", "{v: 'true'}"),
        (
            "string",
            "{v: {b: 1, a: [x]}}",
            r#"{v: '{"a":["x"],"b":1}'}"#,
        ),
        ("string", "{v: null}", "{v: ''}"),
        ("string", "{w: 1}", "{w: 1}"),
    ];
    for (t, input, want) in cases {
        check(&to(t), input, want);
    }
    let mut attrs = vec![bytes("v", b"hi!")];
    actions(&to("string")).unwrap().apply(&mut attrs);
    assert_eq!(attrs, map("{v: aGkh}"));
    let d = run(&to("double"), "{v: inf}");
    assert!(
        matches!(d[0].value.as_ref().and_then(|v| v.value.as_ref()), Some(Av::DoubleValue(f)) if f.is_infinite())
    );
}

#[test]
fn nothing_to_do_is_seen_without_a_change() {
    let a = actions(
        r#"
- { key: a, value: 1, action: upsert }
- { key: gone, action: delete }
- { key: h, action: hash }
- { key: a, value: 5, action: insert }
"#,
    )
    .unwrap();
    assert!(!a.would_change(&map("{a: 1, b: 2}")));
    assert!(a.would_change(&map("{a: 2}")));
    assert!(a.would_change(&map("{a: 1, gone: x}")));
    assert!(a.would_change(&map("{a: 1, h: x}")));
    assert!(
        !a.would_change(&map("{a: 1, h: ''}")),
        "hash of \"\" is \"\""
    );
}

#[test]
fn every_config_error_is_reported_with_its_index() {
    let e = actions(
        r#"
- { key: a, action: insert }
- { key: a, action: upsert, value: 1, from_attribute: b }
- { key: a, action: update, from_context: metadata.x }
- { action: delete }
- { key: a, action: delete, value: 1 }
- { key: a, action: hash, pattern: '(' }
- { key: a, action: extract }
- { key: a, action: extract, pattern: 'x(y)' }
- { key: a, action: convert }
- { key: a, action: convert, converted_type: bool }
- { key: a, action: rename }
- { key: a, action: upsert, value: 1, pattern: x }
- { key: a, action: insert, value: 1, converted_type: int }
- { key: a, action: upsert, value: 1, default_value: 2 }
- { key: a, action: upsert, value: 18446744073709551615 }
"#,
    )
    .unwrap_err();
    let got: Vec<String> = e.iter().map(|i| i.to_string()).collect();
    let want = [
        "actions[0]: insert needs one of value, from_attribute or from_context",
        "actions[1]: only one of value, from_attribute and from_context may be set",
        "actions[2]::from_context: from_context is not supported",
        "actions[3]::key: delete needs key or pattern",
        "actions[4]::value: delete takes no value",
        "actions[5]::pattern: invalid regular expression \"(\"",
        "actions[6]::pattern: extract needs a pattern with named groups",
        "actions[7]::pattern: every capture group of an extract pattern must be named",
        "actions[8]::converted_type: convert needs converted_type",
        "actions[9]::converted_type: unknown converted_type \"bool\"",
        "actions[10]::action: unknown action \"rename\"",
        "actions[11]::pattern: upsert takes no pattern",
        "actions[12]::converted_type: insert takes no converted_type",
        "actions[13]::default_value: default_value is used only with from_attribute",
        "actions[14]::value: number 18446744073709551615 does not fit",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "{g}\n  does not start with\n{w}");
    }
    // The action name is case-insensitive.
    assert!(actions("[{ key: a, action: UPSERT, value: 1 }]").is_ok());
}
