//! The `awsxray` exporter: spans become X-Ray segment documents
//! ([`translate`]) sent with `PutTraceSegments` (SigV4, through `aws-sdk-xray`)
//! or, with `transport: udp`, as datagrams to an X-Ray daemon.
//!
//! API: <https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html>;
//! documents: <https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>.

pub mod cause;
mod json;
pub mod translate;

#[cfg(test)]
mod golden;
