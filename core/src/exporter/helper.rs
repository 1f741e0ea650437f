//! Transitional alias: the queue machinery lives in [`super::queue`]. Kept only
//! because `registry.rs` and the `ExporterFactory::queue` impls (owned by the
//! component-model rewrite) still name `exporter::helper::QueueSettings`;
//! remove once they name `exporter::queue::QueueSettings`.

pub use super::queue::QueueSettings;
