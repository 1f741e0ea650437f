//! Request-body decompression with a hard cap on the decompressed size, and the
//! compressors the exporters use.

use std::io::{Read, Write};

use thiserror::Error;

/// A `Content-Encoding` the receivers and exporters understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
    Deflate,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value; `None` when unsupported.
    pub fn from_header(v: &str) -> Option<Encoding> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "identity" | "none" => Some(Encoding::Identity),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            "zstd" => Some(Encoding::Zstd),
            "deflate" | "zlib" => Some(Encoding::Deflate),
            _ => None,
        }
    }
}

#[derive(Debug, Error)]
pub enum DecompressError {
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid {encoding:?} data: {source}")]
    Invalid {
        encoding: Encoding,
        source: std::io::Error,
    },
}

/// Decompresses `body`, failing as soon as the output would exceed `limit` bytes
/// (a small bomb never allocates more than `limit`).
pub fn decompress(
    encoding: Encoding,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    match encoding {
        Encoding::Identity if body.len() > limit => Err(DecompressError::TooLarge { limit }),
        Encoding::Identity => Ok(body.to_vec()),
        Encoding::Gzip => read_capped(
            encoding,
            flate2::read::MultiGzDecoder::new(body),
            limit,
            body.len(),
        ),
        Encoding::Deflate => read_capped(
            encoding,
            flate2::read::ZlibDecoder::new(body),
            limit,
            body.len(),
        ),
        Encoding::Zstd => {
            let dec = zstd::stream::read::Decoder::with_buffer(body)
                .map_err(|source| DecompressError::Invalid { encoding, source })?;
            read_capped(encoding, dec, limit, body.len())
        }
    }
}

fn read_capped(
    encoding: Encoding,
    reader: impl Read,
    limit: usize,
    hint: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity((hint * 4).min(limit));
    let mut limited = reader.take(limit as u64 + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|source| DecompressError::Invalid { encoding, source })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

/// Compresses parts written back to back (an encoded batch) into one body.
pub fn compress(
    encoding: Encoding,
    parts: &[bytes::Bytes],
    level: Option<i32>,
) -> std::io::Result<Vec<u8>> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    match encoding {
        Encoding::Identity => {
            let mut out = Vec::with_capacity(total);
            for p in parts {
                out.extend_from_slice(p);
            }
            Ok(out)
        }
        Encoding::Gzip => {
            let lvl = flate2::Compression::new(level.unwrap_or(1).clamp(0, 9) as u32);
            let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(total / 4 + 64), lvl);
            for p in parts {
                enc.write_all(p)?;
            }
            enc.finish()
        }
        Encoding::Deflate => {
            let lvl = flate2::Compression::new(level.unwrap_or(1).clamp(0, 9) as u32);
            let mut enc = flate2::write::ZlibEncoder::new(Vec::with_capacity(total / 4 + 64), lvl);
            for p in parts {
                enc.write_all(p)?;
            }
            enc.finish()
        }
        Encoding::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(
                Vec::with_capacity(total / 4 + 64),
                level.unwrap_or(1),
            )?;
            for p in parts {
                enc.write_all(p)?;
            }
            enc.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_caps_bombs() {
        let data = vec![b'a'; 100_000];
        for enc in [
            Encoding::Gzip,
            Encoding::Zstd,
            Encoding::Deflate,
            Encoding::Identity,
        ] {
            let c = compress(enc, &[bytes::Bytes::from(data.clone())], None).unwrap();
            assert_eq!(decompress(enc, &c, 100_000).unwrap(), data);
            assert!(
                matches!(
                    decompress(enc, &c, 99_999),
                    Err(DecompressError::TooLarge { .. })
                ),
                "{enc:?}"
            );
        }
        assert!(matches!(
            decompress(Encoding::Gzip, b"not gzip", 10),
            Err(DecompressError::Invalid { .. })
        ));
    }
}
