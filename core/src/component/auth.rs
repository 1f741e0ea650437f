//! The interface between client authenticator extensions (`sigv4auth`) and the
//! components that send HTTP requests with them (`auth: {authenticator: <id>}`).
//! An authenticator extension publishes itself in
//! [`BuildContext::authenticators`](super::BuildContext) when it starts
//! (extensions start before exporters); an exporter looks it up by ID.

use std::sync::Arc;

use super::{BuildContext, BuildError};
use crate::config::id::ComponentId;

pub use crate::http::RequestSigner;

/// A started authenticator extension.
pub trait HttpAuthenticator: Send + Sync {
    /// A signer for requests to `endpoint` (e.g. with the service inferred from its host).
    fn signer_for(&self, endpoint: &http::Uri) -> Result<Arc<dyn RequestSigner>, String>;
}

/// The started authenticator `id`, for component `user`.
pub fn lookup(
    ctx: &BuildContext,
    user: &ComponentId,
    id: &ComponentId,
) -> Result<Arc<dyn HttpAuthenticator>, BuildError> {
    ctx.authenticators.get(id).ok_or_else(|| {
        BuildError::new(
            user,
            format!("authenticator \"{id}\" is not running (list it in service::extensions)"),
        )
    })
}
