//! Loading, merging and validation, error by error.

use super::*;
use crate::otlp::SignalKind;
use crate::registry::Registry;

fn check(yaml: &str) -> Result<ValidatedConfig, Vec<String>> {
    let mut v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut issues = Vec::new();
    expand::expand(&mut v, &|_| None, "", &mut issues);
    assert!(issues.is_empty());
    validate(&v, &Registry::builtin()).map_err(|e| e.into_iter().map(|i| i.to_string()).collect())
}

fn errors(yaml: &str) -> Vec<String> {
    match check(yaml) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e,
    }
}

const MINIMAL: &str = "
receivers: {otlp: {protocols: {http: {}}}}
exporters: {debug: {}}
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
";

#[test]
fn default_config_is_valid() {
    let v = load(&[ConfigSource::Default], &|_| None).unwrap();
    let cfg = validate(&v, &Registry::builtin()).unwrap();
    assert_eq!(cfg.pipelines.len(), 3);
    assert_eq!(
        cfg.telemetry.metrics_address.as_deref(),
        Some("localhost:8888")
    );
    assert_eq!(
        cfg.service_extensions,
        vec![ComponentId::parse("health_check").unwrap()]
    );
}

#[test]
fn minimal_and_empty_bodies_mean_defaults() {
    let cfg = check(MINIMAL).unwrap();
    assert_eq!(cfg.pipelines[0].id.signal, SignalKind::Traces);
    let cfg = check("receivers: {otlp: {protocols: {grpc: , http: }}}\nprocessors: {batch: }\nexporters: {debug: }\nservice: {pipelines: {logs/x: {receivers: [otlp], processors: [batch], exporters: [debug]}}}").unwrap();
    assert_eq!(cfg.pipelines[0].id.name.as_deref(), Some("x"));
}

#[test]
fn every_problem_is_reported_at_once_with_paths() {
    let e = errors(
        "
receivers:
  otlp: {protocols: {http: {endpoint: 'localhost:1', bogus_key: 1}}}
  kafka: {}
processors:
  batch: {send_batch_size: 100, send_batch_max_size: 10}
exporters:
  otlphttp: {endpoint: 'http://x', compression: brotli}
  debug: {verbosity: loud}
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [batch, batch]
      exporters: [otlphttp/missing]
    metrics:
      exporters: [debug]
    logs:
      receivers: [otlp]
",
    );
    let all = e.join("\n");
    for needle in [
        "receivers::otlp::protocols::http::bogus_key",
        "unknown field `bogus_key`",
        "receivers::kafka: unknown type: \"kafka\" (supported receivers: otlp, telemetryapi)",
        "processors::batch::send_batch_max_size",
        "exporters::otlphttp::compression",
        "exporters::debug::verbosity",
        "service::extensions: references extension \"health_check\" which is not configured",
        "service::pipelines::traces: references receiver \"zipkin\" which is not configured",
        "service::pipelines::traces: references processor \"batch\" multiple times",
        "service::pipelines::traces: references exporter \"otlphttp/missing\" which is not configured",
        "service::pipelines::metrics: must have at least one receiver",
        "service::pipelines::logs: must have at least one exporter",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn structural_errors() {
    assert!(
        errors("exporters: {debug: {}}\nservice: {pipelines: {traces: {exporters: [debug]}}}")
            .iter()
            .any(|e| e == "no receiver configuration specified in config")
    );
    assert!(errors("receivers: {otlp: {protocols: {http: {}}}}\nservice: {pipelines: {traces: {receivers: [otlp]}}}")
        .iter()
        .any(|e| e == "no exporter configuration specified in config"));
    assert!(errors(
        "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: {}}\nservice: {}"
    )
    .iter()
    .any(|e| e.ends_with("service must have at least one pipeline")));
    assert!(errors("receivers: {otlp: {}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}")
        .iter()
        .any(|e| e.contains("must specify at least one protocol when using the OTLP receiver")));
    assert!(errors(&format!("{MINIMAL}\nbogus: 1"))
        .iter()
        .any(|e| e.contains("unknown top-level key \"bogus\"")));
    assert!(errors("receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: {}}\nservice: {pipelines: {spans: {receivers: [otlp], exporters: [debug]}}}")
        .iter()
        .any(|e| e.contains("unknown signal \"spans\"")));
    assert!(errors("receivers: {'otlp/': {}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}")
        .iter()
        .any(|e| e.contains("name after '/' must not be empty")));
}

#[test]
fn aliases_and_named_components() {
    let cfg = check(
        "receivers: {otlp/app: {protocols: {grpc: {}}}}\nexporters: {otlp_http/a: {endpoint: 'http://h:4318'}, otlp_grpc: {endpoint: 'h:4317'}}\nservice: {pipelines: {traces: {receivers: [otlp/app], exporters: [otlp_http/a, otlp_grpc]}}}",
    )
    .unwrap();
    assert_eq!(cfg.exporters.len(), 2);
    assert_eq!(
        cfg.exporters.keys().next().unwrap().to_string(),
        "otlp_grpc"
    );
}

fn with_telemetry(t: &str) -> String {
    format!("receivers: {{otlp: {{protocols: {{http: {{}}}}}}}}\nexporters: {{debug: {{}}}}\nservice: {{pipelines: {{traces: {{receivers: [otlp], exporters: [debug]}}}}, telemetry: {t}}}")
}

#[test]
fn telemetry_forms() {
    let cfg = check(&with_telemetry(
        "{metrics: {address: '127.0.0.1:9999'}, logs: {level: debug, encoding: json}}",
    ))
    .unwrap();
    assert_eq!(
        cfg.telemetry.metrics_address.as_deref(),
        Some("127.0.0.1:9999")
    );
    assert_eq!(cfg.telemetry.log_encoding, "json");
    let cfg = check(&with_telemetry(
        "{metrics: {readers: [{pull: {exporter: {prometheus: {host: 0.0.0.0, port: 9100}}}}]}}",
    ))
    .unwrap();
    assert_eq!(
        cfg.telemetry.metrics_address.as_deref(),
        Some("0.0.0.0:9100")
    );
    let cfg = check(&with_telemetry("{metrics: {level: none}}")).unwrap();
    assert_eq!(cfg.telemetry.metrics_address, None);
    assert!(errors(&with_telemetry("{logs: {level: loud}}"))[0]
        .contains("service::telemetry::logs::level"));
}

#[test]
fn merge_maps_deeply_and_replaces_lists() {
    let mut a: Value =
        serde_yaml_ng::from_str("receivers: {bar: {x: 1}}\nlist: [1, 2]\nkeep: 1\nnull_me: 3")
            .unwrap();
    let b: Value =
        serde_yaml_ng::from_str("receivers: {foo: {}, bar: {y: 2}}\nlist: [3]\nnull_me: null")
            .unwrap();
    merge(&mut a, b);
    let expected: Value = serde_yaml_ng::from_str(
        "receivers: {bar: {x: 1, y: 2}, foo: {}}\nlist: [3]\nkeep: 1\nnull_me: null",
    )
    .unwrap();
    assert_eq!(a, expected);
}

#[test]
fn load_reads_files_env_and_yaml_sources() {
    let dir = std::env::temp_dir().join(format!("tern-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f1 = dir.join("a.yaml");
    std::fs::write(
        &f1,
        "receivers: {otlp: {protocols: {http: {endpoint: '${env:HOST}:${env:PORT:-4318}'}}}}",
    )
    .unwrap();
    let lookup = |n: &str| match n {
        "HOST" => Some("0.0.0.0".to_string()),
        "CFG" => Some("exporters: {debug: {}}".to_string()),
        _ => None,
    };
    let v = load(
        &[
            ConfigSource::parse(f1.to_str().unwrap()),
            ConfigSource::parse("env:CFG"),
            ConfigSource::parse("yaml:service::pipelines::traces::receivers: [otlp]"),
            ConfigSource::parse("yaml:service::pipelines::traces::exporters: [debug]"),
        ],
        &lookup,
    )
    .unwrap();
    assert_eq!(
        v["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        Value::String("0.0.0.0:4318".into())
    );
    validate(&v, &Registry::builtin()).unwrap();
    let missing = load(&[ConfigSource::parse("/nonexistent/x.yaml")], &lookup).unwrap_err();
    assert!(missing[0].message.contains("cannot read config file"));
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "receivers: [unclosed").unwrap();
    assert!(
        load(&[ConfigSource::parse(bad.to_str().unwrap())], &lookup).unwrap_err()[0]
            .message
            .contains("invalid YAML")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn component_ids() {
    assert_eq!(
        ComponentId::parse("otlp/a-b.c").unwrap().to_string(),
        "otlp/a-b.c"
    );
    assert!(ComponentId::parse("1otlp").is_err());
    assert!(ComponentId::parse("ot-lp").is_err());
    assert!(ComponentId::parse("otlp/has space").is_err());
}

#[test]
fn an_invalid_component_is_not_also_not_configured() {
    let e = errors("receivers: {otlp: {protocols: {http: {bogus: 1}}}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}, logs: {receivers: [otlp], exporters: [debug]}}}");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("receivers::otlp::protocols::http::bogus"));
}

#[test]
fn a_refusing_processor_after_batch_is_an_error_that_names_the_fix() {
    let base = "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: {}}\nprocessors: {batch: {}, batch/2: {}, memory_limiter: {check_interval: 1s, limit_mib: 100}}\n";
    let e = errors(&format!("{base}service: {{pipelines: {{traces: {{receivers: [otlp], processors: [batch, memory_limiter], exporters: [debug]}}}}}}"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("service::pipelines::traces: processor \"memory_limiter\""),
        "{e:?}"
    );
    assert!(e[0].contains("cannot run after \"batch\""), "{e:?}");
    assert!(
        e[0].contains("processors: [memory_limiter, batch]"),
        "{e:?}"
    );
    // Before the batcher (first, as documented, or behind another processor) it is fine.
    check(&format!("{base}service: {{pipelines: {{traces: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [debug]}}}}}}")).unwrap();
    // Two batchers are still refused, and the limiter after the first is named once.
    let e = errors(&format!("{base}service: {{pipelines: {{logs: {{receivers: [otlp], processors: [batch, memory_limiter, batch/2], exporters: [debug]}}}}}}"));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[1].contains("at most one batch processor"), "{e:?}");
}

#[test]
fn storage_must_be_a_storage_extension() {
    let e = errors("receivers: {otlp: {protocols: {http: {}}}}\nextensions: {health_check: {}}\nexporters: {otlphttp: {endpoint: 'http://x', sending_queue: {storage: health_check}}}\nservice: {extensions: [health_check], pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}}");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("must be a storage extension"), "{e:?}");
}
