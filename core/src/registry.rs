//! The component registry: one table from component type name to factory. The
//! contracts the factories implement are in [`crate::component`].

pub use crate::component::{BuildError, ConfigIssue};
use crate::component::{
    Catalog, ExporterFactory, ExtensionFactory, ProcessorFactory, ReceiverFactory,
};

/// Every component type Tern knows.
pub struct Registry {
    pub receivers: Vec<&'static dyn ReceiverFactory>,
    pub processors: Vec<&'static dyn ProcessorFactory>,
    pub exporters: Vec<&'static dyn ExporterFactory>,
    pub extensions: Vec<&'static dyn ExtensionFactory>,
}

impl Registry {
    /// The built-in components.
    pub fn builtin() -> Registry {
        Registry {
            receivers: vec![
                &crate::receiver::otlp::OtlpReceiverFactory,
                &crate::receiver::telemetryapi::TelemetryApiFactory,
            ],
            processors: vec![
                &crate::processor::attributes::AttributesFactory,
                &crate::processor::batch::BatchFactory,
                &crate::processor::filter::FilterFactory,
                &crate::processor::memory_limiter::MemoryLimiterFactory,
                &crate::processor::resource::ResourceFactory,
                &crate::processor::redaction::RedactionFactory,
                &crate::processor::metricstransform::MetricsTransformFactory,
                &crate::processor::resourcedetection::ResourceDetectionFactory,
                &crate::processor::transform::TransformFactory,
            ],
            exporters: vec![
                &crate::exporter::otlphttp::OtlpHttpFactory,
                &crate::exporter::otlp::OtlpGrpcFactory,
                &crate::exporter::debug::DebugFactory,
                &crate::exporter::prometheusremotewrite::PrwFactory,
                &crate::exporter::awsxray::AwsXrayFactory,
            ],
            extensions: vec![
                &crate::extension::health_check::HealthCheckFactory,
                &crate::extension::file_storage::FileStorageFactory,
                &crate::extension::sigv4auth::SigV4AuthFactory,
            ],
        }
    }

    /// Sorted type names per kind, for error messages and `tern components`.
    pub fn names(&self, kind: &str) -> Vec<&'static str> {
        Catalog::names(self, kind)
    }
}

impl Catalog for Registry {
    fn receiver(&self, ty: &str) -> Option<&'static dyn ReceiverFactory> {
        self.receivers.iter().copied().find(|f| f.type_name() == ty)
    }
    fn processor(&self, ty: &str) -> Option<&'static dyn ProcessorFactory> {
        self.processors
            .iter()
            .copied()
            .find(|f| f.type_name() == ty)
    }
    fn exporter(&self, ty: &str) -> Option<&'static dyn ExporterFactory> {
        self.exporters
            .iter()
            .copied()
            .find(|f| f.type_name() == ty || f.aliases().contains(&ty))
    }
    fn extension(&self, ty: &str) -> Option<&'static dyn ExtensionFactory> {
        self.extensions
            .iter()
            .copied()
            .find(|f| f.type_name() == ty)
    }

    fn names(&self, kind: &str) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = match kind {
            "receivers" => self.receivers.iter().map(|f| f.type_name()).collect(),
            "processors" => self.processors.iter().map(|f| f.type_name()).collect(),
            "exporters" => self
                .exporters
                .iter()
                .flat_map(|f| std::iter::once(f.type_name()).chain(f.aliases().iter().copied()))
                .collect(),
            "extensions" => self.extensions.iter().map(|f| f.type_name()).collect(),
            _ => Vec::new(),
        };
        v.sort_unstable();
        v
    }
}
