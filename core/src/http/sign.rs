//! Request signing (e.g. SigV4 by the `sigv4auth` extension): the sender calls
//! the signer once per attempt, after every header is set, over the exact body.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::Full;

/// Signs (or otherwise authenticates) one outgoing request over its exact body.
pub trait RequestSigner: Send + Sync {
    fn sign<'a>(
        &'a self,
        req: &'a mut http::Request<Full<Bytes>>,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}
