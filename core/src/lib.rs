//! Tern core: everything that is not process glue. See `ARCHITECTURE.md`.
//!
//! Layers (imports point down only; `tests/layers.rs` checks every file):
//!
//! 0. [`startup`]: process start-up shared by both binaries (runtime, logging,
//!    self-metrics endpoint, the service, memory trimming, stop signal).
//! 1. [`service`]: builds and runs a topology.
//! 2. [`config`] (loading, merging, whole-document validation) and [`registry`]
//!    (the table of factories).
//! 3. The components: [`receiver`], [`processor`], [`exporter`], [`extension`].
//!    A component never imports another component; shared machinery of a kind
//!    sits at that kind's root (e.g. `receiver::accounting`).
//! 4. [`component`]: the contract between the service and the components
//!    (factory traits, typed configs, the build context with its typed slots,
//!    errors).
//! 5. [`pipeline`]: batches, admission, the pipeline task, queues' interfaces,
//!    the write-ahead log.
//! 6. [`telemetry`], [`net`], [`aws`]: self-metrics, listeners, AWS clients.
//! 7. [`otlp`], [`ottl`] (the transformation language, pure), [`compression`] and the config vocabulary ([`config::id`],
//!    [`config::issue`], [`config::duration`], [`config::tls`],
//!    [`config::expand`], [`config::telemetry`]): plain data and pure functions.

/// A boxed future, for object-safe async interfaces.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub mod aws;
pub mod component;
pub mod compression;
pub mod config;
pub mod exporter;
pub mod extension;
pub mod http;
pub mod net;
pub mod otlp;
pub mod ottl;
pub mod pipeline;
pub mod processor;
pub mod receiver;
pub mod registry;
pub mod service;
pub mod startup;
pub mod telemetry;
