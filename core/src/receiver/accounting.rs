//! What every receiver does with a batch it has checked: hand it to the
//! pipelines and count the outcome as `otelcol_receiver_accepted_*` or
//! `otelcol_receiver_refused_*` (labels `receiver`, `transport`). The caller maps
//! the returned [`ConsumeError`] to its protocol's answer.

use std::sync::Arc;

use crate::component::Consumers;
use crate::otlp::{Logs, Metrics, Signal, Traces};
use crate::pipeline::{Batch, ConsumeError, Consumer};
use crate::telemetry::metrics::{ReceiverMetrics, Registry};

/// One signal's pipelines, seen from one receiver and transport, with the
/// receiver's accept/refuse counters.
pub(crate) struct AccountedConsumer<S: Signal> {
    pub(crate) consumer: Consumer<S>,
    metrics: ReceiverMetrics,
}

impl<S: Signal> AccountedConsumer<S> {
    /// Wraps `consumer` for receiver `receiver` (its component ID) on `transport`
    /// (`"http"` or `"grpc"`).
    pub(crate) fn new(
        consumer: Consumer<S>,
        telemetry: &Registry,
        receiver: &str,
        transport: &str,
    ) -> Self {
        AccountedConsumer {
            consumer,
            metrics: ReceiverMetrics::new(telemetry, receiver, transport, S::KIND),
        }
    }

    /// Hands `batch` to the pipelines and counts its items as accepted or refused.
    /// A batch without items is accepted without reaching the pipelines.
    pub(crate) async fn consume(&self, batch: Batch<S>) -> Result<(), ConsumeError> {
        let n = batch.items() as u64;
        if n == 0 {
            return Ok(());
        }
        match self.consumer.consume(batch).await {
            Ok(()) => {
                self.metrics.accepted.inc_by(n);
                Ok(())
            }
            Err(e) => {
                self.metrics.refused.inc_by(n);
                Err(e)
            }
        }
    }
}

/// The three signals' accounted consumers of one receiver and transport; `None`
/// where the receiver is in no pipeline of that signal.
#[derive(Clone)]
pub(crate) struct AccountedConsumers {
    pub traces: Option<Arc<AccountedConsumer<Traces>>>,
    pub metrics: Option<Arc<AccountedConsumer<Metrics>>>,
    pub logs: Option<Arc<AccountedConsumer<Logs>>>,
}

impl AccountedConsumers {
    /// Wraps each signal's consumer for receiver `receiver` on `transport`.
    pub(crate) fn wrap(
        consumers: &Consumers,
        telemetry: &Registry,
        receiver: &str,
        transport: &str,
    ) -> Self {
        fn wrap<S: Signal>(
            c: &Option<Consumer<S>>,
            telemetry: &Registry,
            receiver: &str,
            transport: &str,
        ) -> Option<Arc<AccountedConsumer<S>>> {
            c.clone()
                .map(|c| Arc::new(AccountedConsumer::new(c, telemetry, receiver, transport)))
        }
        AccountedConsumers {
            traces: wrap(&consumers.traces, telemetry, receiver, transport),
            metrics: wrap(&consumers.metrics, telemetry, receiver, transport),
            logs: wrap(&consumers.logs, telemetry, receiver, transport),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{channel_consumer, spans};
    use super::*;

    #[tokio::test]
    async fn counts_accepted_and_refused_items_with_receiver_labels() {
        let reg = Registry::default();
        let (consumer, _rx) = channel_consumer::<Traces>(1);
        let c = AccountedConsumer::new(consumer, &reg, "otlp/in", "http");
        c.consume(spans(3)).await.unwrap();
        c.consume(spans(0)).await.unwrap();
        let err = c.consume(spans(2)).await.unwrap_err();
        assert!(matches!(err, ConsumeError::Full { .. }), "{err:?}");
        let text = reg.encode();
        assert!(text.contains(
            "otelcol_receiver_accepted_spans{receiver=\"otlp/in\",transport=\"http\"} 3\n"
        ));
        assert!(text.contains(
            "otelcol_receiver_refused_spans{receiver=\"otlp/in\",transport=\"http\"} 2\n"
        ));
    }
}

/// Tiny pipelines for receiver tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    use tokio::sync::mpsc;

    use crate::otlp::{Signal, Traces};
    use crate::pipeline::{Batch, Consumer, PipelineInput, Route};

    /// A consumer whose only pipeline is a channel of `capacity` batches: it
    /// refuses with `Full` once `capacity` batches wait in the returned receiver,
    /// and with `ShuttingDown` once the receiver is dropped.
    pub(crate) fn channel_consumer<S: Signal>(
        capacity: usize,
    ) -> (Consumer<S>, mpsc::Receiver<Batch<S>>) {
        let (tx, rx) = mpsc::channel(capacity);
        let input = PipelineInput {
            name: "test".into(),
            admission: Vec::new(),
            route: Route::Task(tx),
            wal: None,
            admission_wait: Duration::from_millis(1),
        };
        (Consumer::new(vec![Arc::new(input)]), rx)
    }

    /// The protobuf encoding of a trace request with `n` spans.
    pub(crate) fn spans_request(n: usize) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    /// A batch of `n` spans.
    pub(crate) fn spans(n: usize) -> Batch<Traces> {
        Batch::from_encoded(bytes::Bytes::from(spans_request(n))).unwrap()
    }
}
