//! The interface between client authenticator extensions (`sigv4auth`) and the
//! exporters that use them (`auth: {authenticator: <id>}`). An authenticator
//! extension publishes itself in the [`BuildContext`] when it starts (extensions
//! start before exporters); an exporter looks it up by ID when it is built.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

use crate::config::ComponentId;
use crate::pipeline::stage::BoxFuture;
use crate::registry::BuildError;
use crate::service::BuildContext;

/// Signs (or otherwise authenticates) one outgoing request over its exact body.
pub trait RequestSigner: Send + Sync {
    fn sign<'a>(
        &'a self,
        req: &'a mut http::Request<Full<Bytes>>,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A started authenticator extension.
pub trait HttpAuthenticator: Send + Sync {
    /// A signer for requests to `endpoint` (e.g. with the service inferred from its host).
    fn signer_for(&self, endpoint: &http::Uri) -> Result<Arc<dyn RequestSigner>, String>;
}

/// What is stored in the build context under the extension's ID.
pub struct Published(pub Arc<dyn HttpAuthenticator>);

fn key(id: &ComponentId) -> String {
    format!("auth:{id}")
}

/// Called by an authenticator extension when it starts.
pub fn publish(ctx: &BuildContext, id: &ComponentId, auth: Arc<dyn HttpAuthenticator>) {
    let _ = ctx.shared::<Published>(&key(id), || Ok(Arc::new(Published(auth))));
}

/// Called by an exporter: the started authenticator `id`.
pub fn lookup(
    ctx: &BuildContext,
    exporter: &ComponentId,
    id: &ComponentId,
) -> Result<Arc<dyn HttpAuthenticator>, BuildError> {
    ctx.shared::<Published>(&key(id), || {
        Err(BuildError::new(
            exporter,
            format!("authenticator \"{id}\" is not running (list it in service::extensions)"),
        ))
    })
    .map(|p| p.0.clone())
}
