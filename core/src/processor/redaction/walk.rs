//! Where the attribute maps of each signal are: resource, scope, spans and span
//! events; data points of every metric type; log records and their bodies.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::Redactor;

fn resource(r: &Option<Resource>) -> &[KeyValue] {
    r.as_ref().map_or(&[], |r| &r.attributes)
}

fn scope(s: &Option<InstrumentationScope>) -> &[KeyValue] {
    s.as_ref().map_or(&[], |s| &s.attributes)
}

pub fn traces_need_change(r: &Redactor, req: &ExportTraceServiceRequest) -> bool {
    req.resource_spans.iter().any(|rs| {
        r.attributes_need_change(resource(&rs.resource))
            || rs.scope_spans.iter().any(|ss| {
                r.attributes_need_change(scope(&ss.scope))
                    || ss.spans.iter().any(|s| {
                        r.attributes_need_change(&s.attributes)
                            || s.events
                                .iter()
                                .any(|e| r.attributes_need_change(&e.attributes))
                    })
            })
    })
}

pub fn traces(r: &Redactor, req: &mut ExportTraceServiceRequest) {
    for rs in &mut req.resource_spans {
        if let Some(res) = &mut rs.resource {
            r.attributes(&mut res.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(sc) = &mut ss.scope {
                r.attributes(&mut sc.attributes);
            }
            for s in &mut ss.spans {
                r.attributes(&mut s.attributes);
                for e in &mut s.events {
                    r.attributes(&mut e.attributes);
                }
            }
        }
    }
}

pub fn logs_need_change(r: &Redactor, req: &ExportLogsServiceRequest) -> bool {
    req.resource_logs.iter().any(|rl| {
        r.attributes_need_change(resource(&rl.resource))
            || rl.scope_logs.iter().any(|sl| {
                r.attributes_need_change(scope(&sl.scope))
                    || sl.log_records.iter().any(|l| {
                        r.attributes_need_change(&l.attributes)
                            || r.log_body_needs_change(l.body.as_ref())
                    })
            })
    })
}

pub fn logs(r: &Redactor, req: &mut ExportLogsServiceRequest) {
    for rl in &mut req.resource_logs {
        if let Some(res) = &mut rl.resource {
            r.attributes(&mut res.attributes);
        }
        for sl in &mut rl.scope_logs {
            if let Some(sc) = &mut sl.scope {
                r.attributes(&mut sc.attributes);
            }
            for l in &mut sl.log_records {
                r.attributes(&mut l.attributes);
                r.log_body(&mut l.body, &mut l.attributes);
            }
        }
    }
}

/// Calls `f` on the attributes of every data point of `m` until it returns true.
fn any_point(m: &Metric, mut f: impl FnMut(&[KeyValue]) -> bool) -> bool {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Summary(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
        None => false,
    }
}

fn each_point(m: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut m.data {
        Some(Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::ExponentialHistogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(Data::Summary(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        None => {}
    }
}

pub fn metrics_need_change(r: &Redactor, req: &ExportMetricsServiceRequest) -> bool {
    req.resource_metrics.iter().any(|rm| {
        r.attributes_need_change(resource(&rm.resource))
            || rm.scope_metrics.iter().any(|sm| {
                r.attributes_need_change(scope(&sm.scope))
                    || sm
                        .metrics
                        .iter()
                        .any(|m| any_point(m, |a| r.attributes_need_change(a)))
            })
    })
}

pub fn metrics(r: &Redactor, req: &mut ExportMetricsServiceRequest) {
    for rm in &mut req.resource_metrics {
        if let Some(res) = &mut rm.resource {
            r.attributes(&mut res.attributes);
        }
        for sm in &mut rm.scope_metrics {
            if let Some(sc) = &mut sm.scope {
                r.attributes(&mut sc.attributes);
            }
            for m in &mut sm.metrics {
                each_point(m, |a| r.attributes(a));
            }
        }
    }
}
