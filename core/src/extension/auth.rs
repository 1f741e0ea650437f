//! The interface between client authenticator extensions (`sigv4auth`) and the
//! exporters that use them (`auth: {authenticator: <id>}`). An authenticator
//! extension publishes itself in the [`BuildContext`] when it starts (extensions
//! start before exporters); an exporter looks it up by ID when it is built.

use std::sync::Arc;

use crate::config::ComponentId;
use crate::registry::BuildError;
use crate::service::BuildContext;

pub use crate::http::RequestSigner;

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
