//! A property without a fuzzer: the lexer, parser and compiler never panic on
//! arbitrary text, for conditions and statements in every context, and what
//! compiles evaluates on an empty item without panicking. Inputs are mutations
//! of real statements and token soup from a fixed-seed generator, so every run
//! checks the same few thousand strings (the `ottl_parse` fuzz target explores
//! further).

use opentelemetry_proto::tonic::trace::v1::Span;

use super::{Condition, Context, Env, Item, ItemMut, Rec, RecMut, Statement};
use crate::otlp::SignalKind;

const SEEDS: &[&str] = &[
    r#"set(attributes["test"], "pass") where name == "x""#,
    r#"replace_pattern(span.attributes["u"], "^user-(\d+)$", "id-$$1")"#,
    r#"delete_key(resource.attributes, "k") where IsMatch(span.name, "^a.*")"#,
    r#"limit(log.attributes, 10, ["a", "b"])"#,
    r#"truncate_all(attributes, 3)"#,
    r#"merge_maps(attributes, {"a": [1, 2.5, true, nil]}, "upsert")"#,
    r#"set(span.name, Concat([span.name, String(Int("1") + 2 * 3)], "-"))"#,
    r#"span.kind == SPAN_KIND_SERVER and not (span.status.code != STATUS_CODE_ERROR or false)"#,
    r#"Split(log.body, ",")[0] == "a" or log.severity_number >= SEVERITY_NUMBER_WARN"#,
    r#"span.trace_id == TraceID(0x0102030405060708090a0b0c0d0e0f10)"#,
    r#"set(datapoint.attributes["m"], metric.name) where metric.type == METRIC_DATA_TYPE_SUM"#,
    r#"keep_matching_keys(scope.attributes, "^x") where attributes[attributes["k"]] != nil"#,
];

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "\"",
    "\\",
    "==",
    "!=",
    "<=",
    ">",
    "+",
    "-",
    "*",
    "/",
    " ",
    "where",
    "and",
    "or",
    "not",
    "nil",
    "true",
    "0x",
    "0x1",
    "1e",
    "9223372036854775808",
    "-9223372036854775808",
    "1.5",
    "set",
    "attributes",
    "span",
    "log",
    "resource",
    "spanevent",
    "metric",
    "datapoint",
    "scope",
    "name",
    "body",
    "string",
    "Int",
    "IsMatch",
    "Concat",
    "é",
    "\u{0}",
    "SPAN_KIND_",
    "[0]",
    "[-1]",
    "(((((",
    "]]]]",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn input(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => {
            let mut b = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(b.len() + 1);
                match rng.below(4) {
                    0 => {
                        b.truncate(at);
                    }
                    1 if at < b.len() => {
                        b.remove(at);
                    }
                    2 => {
                        let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                        b.splice(at..at, t.iter().copied());
                    }
                    _ => b.insert(at, (rng.next() & 0xff) as u8),
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        1 => (0..rng.below(16))
            .map(|_| TOKENS[rng.below(TOKENS.len())])
            .collect(),
        _ => {
            let b: Vec<u8> = (0..rng.below(48))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect();
            String::from_utf8_lossy(&b).into_owned()
        }
    }
}

fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    for signal in [SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs] {
        out.push(Env {
            signal,
            context: None,
        });
        for c in [
            Context::Resource,
            Context::Scope,
            Context::Span,
            Context::SpanEvent,
            Context::Metric,
            Context::DataPoint,
            Context::Log,
        ] {
            if c.of_signal(signal) {
                out.push(Env {
                    signal,
                    context: Some(c),
                });
            }
        }
    }
    out
}

#[test]
fn compiling_arbitrary_text_never_panics() {
    let mut rng = Rng(0x7e57_0771_5eed_0001);
    let envs = envs();
    let (mut compiled, mut total) = (0, 0);
    for _ in 0..3000 {
        let src = input(&mut rng);
        for env in &envs {
            total += 1;
            let span = Span::default();
            let item = Item {
                resource: None,
                scope: None,
                rec: Rec::Span(&span),
            };
            match Condition::compile(&src, *env) {
                Ok(c) => {
                    compiled += 1;
                    let _ = c.eval(&item);
                }
                Err(e) => {
                    let _ = e.describe(&src);
                }
            }
            match Statement::compile(&src, *env) {
                Ok(s) => {
                    compiled += 1;
                    let (mut r, mut sc, mut sp) = (None, None, Span::default());
                    let _ = s.exec(&mut ItemMut {
                        resource: &mut r,
                        scope: &mut sc,
                        rec: RecMut::Span(&mut sp),
                    });
                }
                Err(e) => {
                    let _ = e.describe(&src);
                }
            }
        }
    }
    // The generator must reach the compiler, not only the lexer.
    assert!(compiled > 0, "{compiled} of {total} compiled");
}
