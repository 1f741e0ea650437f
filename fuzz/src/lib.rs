//! Checks shared by the fuzz targets.

use prost::Message;
use tern_core::compression::{decompress, DecompressError, Encoding};
use tern_core::otlp::json::JsonError;
use tern_core::otlp::scan::{self, Msg, ScanError};
use tern_core::otlp::Signal;

/// The scanner must never accept what prost refuses, must count the same items, and the
/// top-level entries it yields must scan on their own and add up. Where prost decodes and the
/// scanner refuses, the only allowed reasons are nesting deeper than `scan::MAX_DEPTH` and
/// unknown fields encoded as groups (which the scanner refuses and prost skips).
pub fn check_scan<S: Signal>(msg: Msg, data: &[u8]) {
    let scanned = scan::scan(msg, data);
    let decoded = S::Request::decode(data);
    match (scanned, decoded) {
        (Ok(items), Ok(req)) => {
            assert_eq!(
                items,
                S::count(&req),
                "scanner and prost count different items"
            );
            let mut sum = 0;
            for entry in scan::top_level_entries(data) {
                sum += scan::scan(msg, entry).expect("a top-level entry of a valid request");
            }
            assert_eq!(sum, items, "top-level entries miscount");
        }
        (Ok(_), Err(e)) => panic!("scanner accepts what prost refuses: {e}"),
        (Err(ScanError::TooDeep), Ok(_)) => {}
        (
            Err(ScanError::WireType {
                wire_type: 3 | 4, ..
            }),
            Ok(_),
        ) => {}
        (Err(e), Ok(_)) => panic!("scanner refuses what prost decodes: {e}"),
        (Err(_), Err(_)) => {}
    }
}

/// A request the JSON decoder accepts must encode to protobuf the scanner accepts (unless too
/// deep) with the same item count, and that protobuf must round-trip through prost.
pub fn check_json<S: Signal>(
    msg: Msg,
    decode: fn(&[u8]) -> Result<S::Request, JsonError>,
    data: &[u8],
) {
    let Ok(req) = decode(data) else {
        return;
    };
    let items = S::count(&req);
    let bytes = req.encode_to_vec();
    match scan::scan(msg, &bytes) {
        Ok(n) => assert_eq!(n, items, "scanner miscounts a JSON-decoded request"),
        Err(ScanError::TooDeep) => {}
        Err(e) => panic!("JSON decoder produced protobuf the scanner refuses: {e}"),
    }
    if let Ok(again) = S::Request::decode(bytes.as_slice()) {
        assert_eq!(again.encode_to_vec(), bytes, "protobuf does not round-trip");
    }
}

/// Limit used by the `decompress` target: small, so bombs stop early.
pub const DECOMPRESS_LIMIT: usize = 64 * 1024;

/// First byte selects the codec (0 gzip, 1 zstd, 2 deflate, else identity); the rest is the
/// body. Decompression must fail or return at most the limit.
pub fn check_decompress(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = match selector {
        0 => Encoding::Gzip,
        1 => Encoding::Zstd,
        2 => Encoding::Deflate,
        _ => Encoding::Identity,
    };
    match decompress(encoding, body, DECOMPRESS_LIMIT) {
        Ok(out) => assert!(out.len() <= DECOMPRESS_LIMIT),
        Err(DecompressError::TooLarge { limit }) => assert_eq!(limit, DECOMPRESS_LIMIT),
        Err(DecompressError::Invalid { .. }) => {}
    }
}

/// OTTL text (lossy UTF-8) compiles or fails with an error whose column can be described, as a
/// condition and as a statement, in every context of every signal; what compiles evaluates on
/// an empty span without panicking.
pub fn check_ottl(data: &[u8]) {
    use opentelemetry_proto::tonic::trace::v1::Span;
    use tern_core::otlp::SignalKind;
    use tern_core::ottl::{Condition, Context, Env, Item, ItemMut, Rec, RecMut, Statement};

    let src = String::from_utf8_lossy(data);
    let contexts = [
        None,
        Some(Context::Resource),
        Some(Context::Scope),
        Some(Context::Span),
        Some(Context::SpanEvent),
        Some(Context::Metric),
        Some(Context::DataPoint),
        Some(Context::Log),
    ];
    for signal in [SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs] {
        for context in contexts {
            if context.is_some_and(|c| !c.of_signal(signal)) {
                continue;
            }
            let env = Env { signal, context };
            let span = Span::default();
            match Condition::compile(&src, env) {
                Ok(c) => {
                    let _ = c.eval(&Item {
                        resource: None,
                        scope: None,
                        rec: Rec::Span(&span),
                    });
                }
                Err(e) => {
                    let _ = e.describe(&src);
                }
            }
            match Statement::compile(&src, env) {
                Ok(s) => {
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
}
