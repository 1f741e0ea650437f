use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn config_locations() {
    let cases: &[(Option<&str>, Result<ConfigLocation, &str>)] = &[
        (None, Ok(ConfigLocation::Default)),
        (Some("  "), Ok(ConfigLocation::Default)),
        (
            Some("/var/task/collector.yaml"),
            Ok(ConfigLocation::File("/var/task/collector.yaml".into())),
        ),
        (
            Some("file:/var/task/c.yaml"),
            Ok(ConfigLocation::File("/var/task/c.yaml".into())),
        ),
        (
            Some("file:///var/task/c.yaml"),
            Ok(ConfigLocation::File("/var/task/c.yaml".into())),
        ),
        (
            Some("https://example.com/c.yaml"),
            Ok(ConfigLocation::Http("https://example.com/c.yaml".into())),
        ),
        (
            Some("http://127.0.0.1:9/c.yaml"),
            Ok(ConfigLocation::Http("http://127.0.0.1:9/c.yaml".into())),
        ),
        (
            Some("s3://bucket/conf/key.yaml"),
            Ok(ConfigLocation::S3(S3Object {
                bucket: "bucket".into(),
                key: "conf/key.yaml".into(),
                region: None,
            })),
        ),
        (
            Some("s3://my-bucket.s3.eu-west-1.amazonaws.com/c.yaml"),
            Ok(ConfigLocation::S3(S3Object {
                bucket: "my-bucket".into(),
                key: "c.yaml".into(),
                region: Some("eu-west-1".into()),
            })),
        ),
        (Some("s3://bucket"), Err("expected s3://bucket/key")),
        (
            Some("s3://bucket/a b.yaml"),
            Err("expected s3://bucket/key"),
        ),
        (Some("ftp://x/y"), Err("unsupported scheme")),
    ];
    for (input, want) in cases {
        let got = config_location(*input);
        match (want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(w, g, "{input:?}"),
            (Err(w), Err(g)) => assert!(g.contains(w), "{input:?}: {g}"),
            _ => panic!("{input:?}: got {got:?}"),
        }
    }
}

#[test]
fn lambda_section_defaults_values_and_env_overrides() {
    let d = lambda_settings(None, &no_env).unwrap();
    assert_eq!(d, LambdaSettings::default());
    assert_eq!(d.flush.mode, FlushMode::Adaptive);
    assert_eq!(d.telemetry_timeout_ms, 25);

    let raw: Value = serde_yaml_ng::from_str(
        "flush_mode: periodic\nperiodic_interval: 5s\nwarmup_invocations: 4\nflush_timeout: 750ms\nshutdown_margin: 50ms\ntelemetry_endpoint: 127.0.0.1:0\n",
    )
    .unwrap();
    let s = lambda_settings(Some(raw.clone()), &no_env).unwrap();
    assert_eq!(s.flush.mode, FlushMode::Periodic);
    assert_eq!(s.flush.periodic_interval, Duration::from_secs(5));
    assert_eq!(s.flush.warmup_invocations, 4);
    assert_eq!(s.flush_timeout, Duration::from_millis(750));
    assert_eq!(s.shutdown_margin, Duration::from_millis(50));
    assert_eq!(s.telemetry_endpoint, "127.0.0.1:0");

    let env = |k: &str| match k {
        "TERN_LAMBDA_FLUSH_MODE" => Some("end".to_string()),
        "TERN_LAMBDA_RUNTIME_DONE_TIMEOUT" => Some("2s".to_string()),
        _ => None,
    };
    let s = lambda_settings(Some(raw), &env).unwrap();
    assert_eq!(s.flush.mode, FlushMode::End);
    assert_eq!(s.runtime_done_timeout, Duration::from_secs(2));
}

#[test]
fn lambda_section_errors_carry_their_path() {
    let raw: Value = serde_yaml_ng::from_str(
        "flush_mode: sometimes\nflush_timeout: soon\nbackup_interval: 0s\ntelemetry_timeout_ms: 5\n",
    )
    .unwrap();
    let issues = lambda_settings(Some(raw), &no_env).unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    for want in [
        "lambda::flush_mode",
        "lambda::flush_timeout",
        "lambda::backup_interval",
        "lambda::telemetry_timeout_ms",
    ] {
        assert!(paths.contains(&want), "{want} not in {issues:?}");
    }
    let unknown: Value = serde_yaml_ng::from_str("flush_every: 1s\n").unwrap();
    let issues = lambda_settings(Some(unknown), &no_env).unwrap_err();
    assert!(issues[0].to_string().contains("flush_every"), "{issues:?}");
}

#[test]
fn config_with_lambda_section_validates_and_reports_both_kinds_of_errors() {
    let registry = Registry::builtin();
    let good = "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: localhost:4318\n  telemetryapi: {}\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    logs:\n      receivers: [otlp, telemetryapi]\n      exporters: [debug]\nlambda:\n  flush_mode: end\n";
    let (cfg, lambda) = load(
        ConfigSource::Inline {
            label: "test".into(),
            text: good.into(),
        },
        &registry,
        &no_env,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(cfg.pipelines.len(), 1);
    assert_eq!(lambda.flush.mode, FlushMode::End);

    let bad = good
        .replace("exporters: [debug]", "exporters: [nope]")
        .replace("flush_mode: end", "flush_mode: never");
    let issues = load(
        ConfigSource::Inline {
            label: "test".into(),
            text: bad,
        },
        &registry,
        &no_env,
    )
    .err()
    .unwrap();
    let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    assert!(text.iter().any(|t| t.contains("nope")), "{text:?}");
    assert!(
        text.iter().any(|t| t.starts_with("lambda::flush_mode")),
        "{text:?}"
    );
}

#[test]
fn embedded_default_config_validates() {
    let registry = Registry::builtin();
    let (cfg, lambda) = load(
        ConfigSource::Inline {
            label: "<embedded default>".into(),
            text: DEFAULT_CONFIG.into(),
        },
        &registry,
        &no_env,
    )
    .unwrap_or_else(|e| panic!("embedded default is invalid: {e:?}"));
    assert_eq!(lambda, LambdaSettings::default());
    let traces: Vec<String> = cfg
        .pipelines
        .iter()
        .filter(|p| p.id.to_string() == "traces")
        .flat_map(|p| p.exporters.iter().map(|e| e.to_string()))
        .collect();
    assert_eq!(traces, ["awsxray"]);
    for sig in ["metrics", "logs"] {
        let ex: Vec<String> = cfg
            .pipelines
            .iter()
            .filter(|p| p.id.to_string() == sig)
            .flat_map(|p| p.exporters.iter().map(|e| e.to_string()))
            .collect();
        assert_eq!(ex, ["debug"], "{sig}");
    }
}

/// The example function's config (examples/lambda/, used by template.yaml) validates with the
/// environment the template gives the function.
#[test]
fn example_function_config_validates() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/lambda/function/collector.yaml"
    );
    let text = std::fs::read_to_string(path).expect("example config");
    let env = |k: &str| match k {
        "AMP_REMOTE_WRITE_ENDPOINT" => Some(
            "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
                .to_string(),
        ),
        "AWS_REGION" => Some("us-east-1".to_string()),
        _ => None,
    };
    let (cfg, lambda) = load(
        ConfigSource::Inline {
            label: path.into(),
            text,
        },
        &Registry::builtin(),
        &env,
    )
    .unwrap_or_else(|e| panic!("example config is invalid: {e:?}"));
    assert_eq!(cfg.pipelines.len(), 3);
    assert_eq!(
        lambda,
        LambdaSettings::default(),
        "flush_mode: adaptive is the default"
    );
}
