"""Fault injection: a failing, absent or slow backend, a permanent error, overload under a
memory limit, kill -9 with a persistent queue, a torn queue file, SIGTERM with data still
queued, and a full persistent queue.

Every test is bounded by short retry intervals (100 ms .. 500 ms). Measured numbers are
printed (run with `-s` or look at the captured output of a failure) as `FAULTS ...` lines.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from ternlib import configs, faults, prom
from ternlib.faults import (MIB, RssSampler, Sent, TraceSender, ids_of, received_span_ids,
                            send_sequential, send_traces, wait_span_ids)
from ternlib.ports import free_port

# Retries fast, and long enough that nothing is given up during a test's outage.
RETRY = {"enabled": True, "initial_interval": "100ms", "max_interval": "500ms",
         "max_elapsed_time": "120s", "multiplier": 1.5, "randomization_factor": 0.1}
STORAGE = "file_storage"


def report(what: str, **numbers) -> None:
    print(f"FAULTS {what}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()), flush=True)


def fault_config(sink, http: int, *, queue: dict | None = None, retry: dict | None = None,
                 storage_dir: Path | None = None, fsync: bool = True,
                 segment_size: int | None = None, memory_limiter: dict | None = None, exporter_extra: dict | None = None) -> dict:
    """otlp/http receiver -> [memory_limiter] -> otlphttp (traces only), JSON logs,
    optionally a file_storage-backed sending queue."""
    exp = configs.otlphttp_to(sink, retry_on_failure=dict(retry or RETRY))
    q = {"enabled": True, **(queue or {})}
    extensions = None
    if storage_dir is not None:
        q["storage"] = STORAGE
        extensions = {STORAGE: {"directory": str(storage_dir), "fsync": fsync}}
        if segment_size is not None:
            extensions[STORAGE]["segment_size"] = segment_size
    exp["sending_queue"] = q
    exp.update(exporter_extra or {})
    processors = {"memory_limiter": memory_limiter} if memory_limiter else None
    return configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors=processors,
        exporters={"otlphttp": exp},
        extensions=extensions,
        service_extensions=[STORAGE] if extensions else None,
        pipelines={"traces": configs.pipeline(["otlp"], ["otlphttp"],
                                              ["memory_limiter"] if processors else None)},
        telemetry=dict(faults.JSON_LOGS),
    )


def restart(tern, t, http: int, **kw):
    """Start tern again with the very same config file(s): same ports, same storage."""
    args: list[str] = []
    for p in t.config_paths:
        args += ["--config", str(p)]
    t2 = tern(args=args, wait_ports=[("127.0.0.1", http)], health_url=t.health_url, **kw)
    t2.metrics_url = t.metrics_url
    return t2


def wait_quiet(sink, quiet: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until the sink has seen no new request for `quiet` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(sink.received) + len(sink.rejected)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def duplicates(counts) -> dict[bytes, int]:
    return {k: v for k, v in counts.items() if v > 1}


def all_ok(sent: list[Sent]) -> None:
    bad = [(r.index, r.status, r.error) for r in sent if not r.ok]
    assert not bad, f"tern did not accept every request: {bad}"


# ---- 1. backend answers 503 for a while ------------------------------------------------------

OUTAGE = 10.0


def test_backend_503_for_10s_then_200_delivers_every_span_once(tern, sink):
    http = free_port()
    t = tern(fault_config(sink, http))
    base = f"http://127.0.0.1:{http}"
    sink.fail_always(503)
    t0 = time.monotonic()
    sent = send_sequential(base, 20, 5, pause=0.2)  # spread over the first ~4 s of the outage
    all_ok(sent)
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))
    assert sink.count("traces") == 0
    attempts = len(sink.rejected)
    assert attempts >= 20, f"only {attempts} export attempts during a {OUTAGE}s outage"
    sink.succeed()
    recovered = time.monotonic()
    wanted = ids_of(sent)
    wait_span_ids(sink, wanted, 20, "every span after the outage")
    took = time.monotonic() - recovered
    wait_quiet(sink, 1.0)
    counts = received_span_ids(sink)
    assert set(counts) == wanted
    dup = duplicates(counts)
    assert not dup, f"{len(dup)} spans delivered more than once"
    sent_metric = faults.wait_metric(t.metrics_url, "otelcol_exporter_sent_spans",
                                     lambda v: v >= 100, exporter="otlphttp")
    assert sent_metric == 100
    assert faults.metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                             exporter="otlphttp") == 0
    report("503-outage", spans=len(wanted), rejected_attempts=attempts,
           delivered_requests=len(sink.received), recovery_s=f"{took:.2f}", duplicates=len(dup))


def test_retry_after_is_honoured_beyond_max_interval(tern, sink):
    """max_interval is 500ms, the backend asks for 2 s: the next attempt waits >= 2 s."""
    http = free_port()
    tern(fault_config(sink, http))
    sink.fail_next(1, http_status=503, retry_after=2)
    sink.fail_next(1, http_status=429, retry_after=1)
    r = send_traces(f"http://127.0.0.1:{http}", 3)
    assert r.ok, r
    wait_span_ids(sink, set(r.span_ids), 15, "the span after two throttled attempts")
    a503, a429 = (x.at for x in sink.rejected)
    ok_at = sink.received[0].at
    report("retry-after", gap_after_503_ra2=f"{a429 - a503:.2f}s",
           gap_after_429_ra1=f"{ok_at - a429:.2f}s")
    assert 1.9 <= a429 - a503 < 4.0, f"retried {a429 - a503:.2f}s after 503 Retry-After: 2"
    assert 0.9 <= ok_at - a429 < 3.0, f"retried {ok_at - a429:.2f}s after 429 Retry-After: 1"
    assert len(received_span_ids(sink)) == 3 and len(sink.received) == 1


def test_every_retryable_status_is_retried(tern, sink):
    http = free_port()
    t = tern(fault_config(sink, http))
    codes = [408, 429, 500, 502, 503, 504]
    for c in codes:
        sink.fail_next(1, http_status=c)
    r = send_traces(f"http://127.0.0.1:{http}", 4)
    assert r.ok, r
    wait_span_ids(sink, set(r.span_ids), 20, "the span after six retryable failures")
    wait_quiet(sink, 0.6)
    assert len(sink.rejected) == len(codes)
    assert len(sink.received) == 1
    assert faults.metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                             exporter="otlphttp") == 0


# ---- 2. backend down (connection refused) ----------------------------------------------------


def test_backend_down_then_up_delivers_every_span_once(tern, make_sink):
    sink = make_sink("late", start=False)  # ports reserved, nothing listening yet
    http = free_port()
    t = tern(fault_config(sink, http))
    base = f"http://127.0.0.1:{http}"
    t0 = time.monotonic()
    sent = send_sequential(base, 15, 4, pause=0.1)
    all_ok(sent)
    time.sleep(max(0.0, 6.0 - (time.monotonic() - t0)))
    assert t.running()
    sink.start()
    up = time.monotonic()
    wanted = ids_of(sent)
    wait_span_ids(sink, wanted, 20, "every span after the backend came up")
    took = time.monotonic() - up
    wait_quiet(sink, 1.0)
    counts = received_span_ids(sink)
    assert set(counts) == wanted
    assert not duplicates(counts), f"{len(duplicates(counts))} spans delivered twice"
    assert faults.metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                             exporter="otlphttp") == 0
    report("conn-refused", spans=len(wanted), down_s=f"{up - t0:.1f}",
           delivered_after_up_s=f"{took:.2f}", requests=len(sink.received))


# ---- 3. permanent error ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403])
def test_permanent_error_drops_once_without_retry_storm(tern, sink, status):
    http = free_port()
    t = tern(fault_config(sink, http))
    sink.fail_always(status, message="sink says this data is bad")
    # One request at a time, each its own export, so "once per batch" is observable.
    sent = send_sequential(f"http://127.0.0.1:{http}", 6, 3, pause=0.3)
    all_ok(sent)
    total = 18
    failed = faults.wait_metric(t.metrics_url, "otelcol_exporter_send_failed_spans",
                                lambda v: v >= total, timeout=10, exporter="otlphttp")
    time.sleep(1.5)  # room for a retry storm to show up
    failed = faults.metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                               exporter="otlphttp")
    assert failed == total, f"send_failed_spans {failed}, expected {total}"
    assert sink.received == []
    per_span = Counter(sp.span_id for r in sink.rejected for rs in r.message.resource_spans
                       for ss in rs.scope_spans for sp in ss.spans)
    assert set(per_span) == ids_of(sent), "the backend did not see every span"
    retried = duplicates(per_span)
    assert not retried, f"{len(retried)} spans were sent again after a {status}"
    assert sink.http_requests == len(sink.rejected)
    events = faults.events_matching(t.stderr(), "not retryable")
    assert len(events) == len(sink.rejected), (
        f"{len(events)} 'not retryable' log lines for {len(sink.rejected)} rejected batches:\n"
        + "\n".join(map(str, events)))
    dropped = [e.get("dropped_items") for e in events]
    assert all(isinstance(d, int) for d in dropped), events
    assert sum(dropped) == total, dropped
    assert faults.metric_sum(t.metrics_url, "otelcol_exporter_sent_spans", exporter="otlphttp") == 0
    report(f"permanent-{status}", batches=len(sink.rejected), send_failed_spans=failed,
           log_lines=len(events), dropped_items=dropped)


# ---- 4. overload under memory_limiter ----------------------------------------------------------

LIMIT_MIB = 64
RSS_BUDGET_MIB = LIMIT_MIB * 1.5


def test_overload_with_memory_limiter_bounds_rss_and_loses_nothing(tern, sink):
    if not os.access(faults.LOADGEN_BIN, os.X_OK):
        pytest.fail(f"loadgen not found at {faults.LOADGEN_BIN} "
                    f"(run `cargo build -p tern-bench` or set LOADGEN_BIN)", pytrace=False)
    http = free_port()
    sink.keep_messages = False  # count only: the sink sees hundreds of thousands of spans
    sink.delay = 0.5  # per request: with 4 consumers the backend takes ~8 requests/s
    t = tern(fault_config(
        sink, http,
        memory_limiter={"check_interval": "100ms", "limit_mib": LIMIT_MIB},
        # a queue far too big for the memory budget: the limiter has to be what pushes back
        queue={"num_consumers": 4, "queue_size": 1_000_000},
        exporter_extra={"timeout": "30s"}))
    idle_kib = faults.proc_status_kib(t.pid, "VmRSS")
    sampler = RssSampler(t.pid, 0.1)
    sampler.start()
    lg = faults.start_loadgen(f"http://127.0.0.1:{http}", duration=10, connections=8)
    try:
        load = faults.finish_loadgen(lg, timeout=60)
    finally:
        sampler.stop()
    assert t.running(), "tern died under overload\n" + t.describe()
    peak_kib, hwm_kib = sampler.peak_kib, faults.proc_status_kib(t.pid, "VmHWM")
    refused_ml = faults.metric_sum(t.metrics_url, "otelcol_processor_memory_limiter_refused_spans",
                                   processor="memory_limiter")
    delivered_at_end_of_load = sink.count("traces")

    sink.delay = 0.0  # the backend catches up
    drain_start = time.monotonic()
    sink.wait_until(lambda: sink.count("traces") >= load["spans_ok"], 90,
                    f"{load['spans_ok']} accepted spans to be delivered")
    drain = time.monotonic() - drain_start
    wait_quiet(sink, 1.0)
    delivered = sink.count("traces")
    _, s = prom.scrape(t.metrics_url)
    recv_refused = sum(x.value for x in prom.find(s, "otelcol_receiver_refused_spans",
                                                  receiver="otlp"))
    recv_accepted = sum(x.value for x in prom.find(s, "otelcol_receiver_accepted_spans",
                                                   receiver="otlp"))
    report("overload", limit_mib=LIMIT_MIB, idle_rss_mib=f"{(idle_kib or 0) / 1024:.1f}",
           peak_rss_mib_sampled=f"{peak_kib / 1024:.1f}",
           vmhwm_mib=f"{(hwm_kib or 0) / 1024:.1f}", samples=len(sampler.samples),
           loadgen=load.raw, delivered_during_load=delivered_at_end_of_load,
           delivered=delivered, drain_s=f"{drain:.1f}", memory_limiter_refused_spans=refused_ml,
           receiver_refused_spans=recv_refused, receiver_accepted_spans=recv_accepted)
    assert peak_kib * 1024 < RSS_BUDGET_MIB * MIB, (
        f"peak RSS {peak_kib / 1024:.1f} MiB over {RSS_BUDGET_MIB:.0f} MiB (limit_mib {LIMIT_MIB})")
    assert load["refused"] > 0, f"the load generator never got a 503: {load.raw}"
    assert load["errors"] == 0, f"load generator errors: {load.raw}"
    assert refused_ml > 0, "memory_limiter refused nothing"
    assert delivered == load["spans_ok"], (
        f"accepted {load['spans_ok']} spans, delivered {delivered}")
    assert recv_accepted == load["spans_ok"]


# ---- 5. kill -9 with a persistent queue --------------------------------------------------------


# "small_segments": 4 KiB segments roll over every few requests, so released segment files
# are reused (overwritten in place) while the crash happens.
@pytest.mark.parametrize("segment_size", [None, 4096], ids=["default", "small_segments"])
def test_kill9_with_fsync_storage_loses_no_acknowledged_span(tern, sink, tmp_path, segment_size):
    http = free_port()
    qdir = tmp_path / "queue"
    # slow backend: data is queued, in flight and delivered at the crash (less slow with
    # small segments, so that many are released and reused before the queue fills)
    sink.delay = 0.3 if segment_size is None else 0.05
    t = tern(fault_config(sink, http, storage_dir=qdir, fsync=True, segment_size=segment_size,
                          queue={"num_consumers": 2, "queue_size": 10_000}))
    # with small segments: large requests first, small ones later, so that the files of the
    # first segments, once reused, show old bytes after their new data
    spans = 5 if segment_size is None else (lambda i: 7 if i < 100 else 1)
    sender = TraceSender(f"http://127.0.0.1:{http}", spans=spans, threads=4).start()
    try:
        # let a dozen requests reach the backend, so that a replay of everything (instead
        # of only what was in flight) would show
        # (with small segments: until several segments were released and their files reused)
        want = 60 if segment_size is None else 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (sender.count_ok() >= want and sink.count("traces") >= want):
            time.sleep(0.05)
        killed_at = time.monotonic()
        rc = t.sigkill()
    finally:
        sender.stop()
    assert rc == -9, rc
    sent = sender.snapshot()
    time.sleep(sink.delay + 0.5)  # requests the sink was answering when tern died end
    run1 = received_span_ids(sink)
    # In flight at the crash: the backend got the request (Received.at is taken before
    # the sink's delay) no earlier than one answer time (+ slack for tern to record the
    # acknowledgement) before the kill.
    window = sink.delay + 0.5
    in_flight = {sp.span_id for r in sink.requests("traces") if r.at >= killed_at - window
                 for rs in r.message.resource_spans for ss in rs.scope_spans for sp in ss.spans}
    acked = ids_of(sent, lambda r: r.ok)
    unknown = ids_of(sent, lambda r: r.status is None)
    other = [(r.index, r.status) for r in sent if r.status not in (None, 200)]
    assert not other, f"unexpected answers before the crash: {other}"
    assert acked, "nothing was acknowledged before the crash"
    wal = faults.wal_dir(qdir, "traces")
    segs = faults.wal_segments(wal)
    on_disk = sum(len(faults.read_wal_segment(p)[0]) for p in segs)
    if segment_size is not None:
        # A new file ends right after its data and the zero end header; a reused one
        # usually holds old bytes behind them.
        def old_bytes(p):
            recs = faults.read_wal_segment(p)[0]
            return p.stat().st_size - (recs[-1].end if recs else 0) - faults.WAL_HEADER.size
        reused = [p.name for p in segs if old_bytes(p) > 0]
        assert reused, "no released segment file was reused"

    sink.delay = 0.0
    t2 = restart(tern, t, http)
    wait_span_ids(sink, acked, 30, "every acknowledged span after the restart")
    wait_quiet(sink, 1.5)
    counts = received_span_ids(sink)
    missing = acked - set(counts)
    dup = duplicates(counts)
    unexplained_dup = {k for k in dup if k not in in_flight}
    stranger = set(counts) - ids_of(sent)
    corrupted = faults.metric_sum(t2.metrics_url, "tern_persistent_queue_corrupted_records")
    report("kill-9", requests_ok=sum(r.ok for r in sent), acked_spans=len(acked),
           unknown_spans_in_flight_at_client=len(unknown),
           delivered_before_crash=len(run1), in_flight_at_crash=len(in_flight),
           wal_records_on_disk=on_disk,
           delivered_unique=len(counts), delivered_total=sum(counts.values()),
           unacked_but_delivered=len(set(counts) - acked), duplicates=len(dup),
           corrupted_records=corrupted)
    assert not missing, f"{len(missing)} acknowledged spans lost"
    assert not stranger, f"{len(stranger)} spans arrived that were never sent"
    assert not unexplained_dup, (
        f"{len(unexplained_dup)} spans delivered twice that were not in flight at the crash "
        f"(received by the backend more than {window:.1f}s before the kill, or not at all)")
    assert max(counts.values()) <= 2, "a span was delivered more than twice"


# ---- 6. torn / corrupt queue file --------------------------------------------------------------


@pytest.mark.parametrize("damage", ["torn_tail", "bad_crc_in_middle"])
def test_damaged_queue_file_skips_one_record_and_recovers_the_rest(tern, make_sink, tmp_path,
                                                                   damage):
    sink = make_sink("late", start=False)
    http = free_port()
    qdir = tmp_path / "queue"
    t = tern(fault_config(sink, http, storage_dir=qdir, fsync=True))
    n_req, n_spans = 8, 3
    sent = send_sequential(f"http://127.0.0.1:{http}", n_req, n_spans)
    all_ok(sent)
    time.sleep(0.3)
    t.sigkill()

    d = faults.wal_dir(qdir, "traces")
    segs = faults.wal_segments(d)
    assert segs, f"no seg-<20 digits>.wal under {d}: {sorted(os.listdir(qdir))}"
    per_seg = [(p, *faults.read_wal_segment(p)) for p in segs]
    records = [r for _, recs, _ in per_seg for r in recs]
    assert all(trailing == 0 for _, _, trailing in per_seg), "segment ends mid-record"
    assert all(r.crc_ok for r in records), "a record with a bad crc before any damage"
    assert len(records) == n_req, f"{len(records)} records for {n_req} admitted requests"
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert sorted(map(tuple, (r.span_ids() for r in records))) == sorted(
        tuple(r.span_ids) for r in sent), "records do not hold exactly the requests sent"
    for p, recs, _ in per_seg:
        if recs:  # named after the first sequence number it holds
            assert p.name == f"seg-{recs[0].seq:020d}.wal", (p.name, recs[0].seq)

    newest, recs, _ = [x for x in per_seg if x[1]][-1]
    if damage == "torn_tail":
        victim = recs[-1]
        size = newest.stat().st_size
        # the last record, then the zero header that marks the end of the data
        assert victim.end + faults.WAL_HEADER.size == size, (victim.end, size)
        os.truncate(newest, victim.end - 5)
    else:
        victim = records[len(records) // 2]
        path = next(p for p, rs, _ in per_seg if victim in rs)
        with open(path, "r+b") as f:
            pos = victim.offset + faults.WAL_HEADER.size + victim.length // 2
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0xFF]))
    lost = set(victim.span_ids())
    expected = ids_of(sent) - lost

    sink.start()
    t2 = restart(tern, t, http)
    wait_span_ids(sink, expected, 20, "every undamaged record")
    wait_quiet(sink, 1.0)
    counts = received_span_ids(sink)
    corrupted = faults.wait_metric(t2.metrics_url, "tern_persistent_queue_corrupted_records",
                                   lambda v: v >= 1, timeout=5)
    _, s = prom.scrape(t2.metrics_url)
    series = prom.find(s, "tern_persistent_queue_corrupted_records")
    report(f"damaged-wal-{damage}", records=len(records), victim_seq=victim.seq,
           delivered=len(counts), expected=len(expected), corrupted=corrupted,
           series=[str(x) for x in series])
    assert set(counts) == expected, (f"missing {len(expected - set(counts))}, "
                                     f"unexpected {len(set(counts) - expected)}")
    assert not duplicates(counts)
    assert corrupted == 1, [str(x) for x in series]
    assert prom.value(s, "tern_persistent_queue_corrupted_records", storage=STORAGE,
                      pipeline="traces") == 1, [str(x) for x in series]


# ---- 7. SIGTERM with a backend that does not take the data -------------------------------------

SHUTDOWN_TIMEOUT = 3.0
SHUTDOWN_MARGIN = 2.5


def unsent_from_log(stderr: str) -> tuple[int, list[dict]]:
    events = [e for e in faults.log_events(stderr)
              if "could not be sent" in str(e.get("message", "")) or "dropped_items" in e]
    return sum(int(e.get("dropped_items", 0)) for e in events), events


@pytest.mark.parametrize("backend", ["down", "stuck"])
def test_sigterm_without_storage_is_bounded_and_reports_unsent(tern, make_sink, backend):
    sink = make_sink(backend, start=(backend == "stuck"))
    if backend == "stuck":
        sink.hold()  # accepts connections, never answers (until released at the end)
    http = free_port()
    t = tern(fault_config(sink, http, exporter_extra={"timeout": "30s"}),
             env={"TERN_SHUTDOWN_TIMEOUT": f"{SHUTDOWN_TIMEOUT:g}s"})
    sent = send_sequential(f"http://127.0.0.1:{http}", 5, 4)
    all_ok(sent)
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = t.terminate(timeout=30)
    took = time.monotonic() - t0
    sink.release()
    unsent, events = unsent_from_log(t.stderr())
    report(f"sigterm-no-storage-{backend}", exit=rc, took_s=f"{took:.2f}", sent_spans=20,
           unsent_logged=unsent, log_lines=len(events))
    assert rc == 0, f"exit code {rc}\n{t.stderr()[-3000:]}"
    assert took < SHUTDOWN_TIMEOUT + SHUTDOWN_MARGIN, f"shutdown took {took:.2f}s"
    assert events, "no log line reports the unsent data\n" + t.stderr()[-3000:]
    assert unsent == 20, f"log reports {unsent} unsent items, 20 were never delivered: {events}"


def test_sigterm_with_storage_keeps_unsent_data_for_next_start(tern, make_sink, tmp_path):
    sink = make_sink("down", start=False)
    http = free_port()
    qdir = tmp_path / "queue"
    env = {"TERN_SHUTDOWN_TIMEOUT": f"{SHUTDOWN_TIMEOUT:g}s"}
    t = tern(fault_config(sink, http, storage_dir=qdir, fsync=True), env=env)
    sent = send_sequential(f"http://127.0.0.1:{http}", 5, 4)
    all_ok(sent)
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = t.terminate(timeout=30)
    took = time.monotonic() - t0
    unsent, events = unsent_from_log(t.stderr())
    segs = faults.wal_segments(faults.wal_dir(qdir, "traces"))
    on_disk = sum(len(faults.read_wal_segment(p)[0]) for p in segs)
    assert rc == 0, f"exit code {rc}\n{t.stderr()[-3000:]}"
    assert took < SHUTDOWN_TIMEOUT + SHUTDOWN_MARGIN, f"shutdown took {took:.2f}s"
    assert on_disk >= 5, f"only {on_disk} records left on disk for 5 unsent requests"

    sink.start()
    t2 = restart(tern, t, http, env=env)
    wanted = ids_of(sent)
    wait_span_ids(sink, wanted, 20, "the data kept on disk")
    wait_quiet(sink, 1.0)
    counts = received_span_ids(sink)
    report("sigterm-storage", exit=rc, took_s=f"{took:.2f}", unsent_logged=unsent,
           records_on_disk=on_disk, delivered_after_restart=len(counts))
    assert set(counts) == wanted
    assert not duplicates(counts)
    assert unsent == 20, f"log reports {unsent} unsent items: {events}"

    # delivered data is done: a clean stop and a third start replay nothing
    assert t2.terminate(timeout=20) == 0, t2.describe()
    before = len(sink.received)
    restart(tern, t, http, env=env)
    time.sleep(1.0)
    assert len(sink.received) == before, "data delivered before the clean stop was replayed"


# ---- 8. full persistent queue ------------------------------------------------------------------


def test_persistent_queue_bound_refuses_with_503(tern, make_sink, tmp_path):
    sink = make_sink("down", start=False)
    http = free_port()
    t = tern(fault_config(sink, http, storage_dir=tmp_path / "queue", fsync=True,
                          queue={"num_consumers": 1, "queue_size": 5}))
    base = f"http://127.0.0.1:{http}"
    sent = send_sequential(base, 12, 3)
    statuses = [r.status for r in sent]
    report("queue-bound", statuses=statuses)
    assert statuses[:5] == [200] * 5, statuses
    assert statuses[5:] == [503] * 7, f"queue_size 5: expected 5 admitted then 503s: {statuses}"
    assert all((r.retry_after or "").strip().isdigit() for r in sent[5:]), \
        [r.retry_after for r in sent[5:]]
    refused = faults.wait_metric(t.metrics_url, "otelcol_receiver_refused_spans",
                                 lambda v: v >= 21, timeout=5, receiver="otlp", transport="http")
    accepted = faults.metric_sum(t.metrics_url, "otelcol_receiver_accepted_spans",
                                 receiver="otlp", transport="http")
    assert refused == 21, f"receiver_refused_spans {refused}, expected 7 requests x 3"
    assert accepted == 15, f"receiver_accepted_spans {accepted}"

    sink.start()
    admitted = ids_of(sent, lambda r: r.ok)
    wait_span_ids(sink, admitted, 20, "the 5 admitted requests")
    # room again once delivered
    deadline = time.monotonic() + 10
    while True:
        r = send_traces(base, 3, index=99)
        if r.ok or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.ok, f"queue still refusing after it drained: {r.status} {r.error}"
    wait_span_ids(sink, admitted | set(r.span_ids), 10, "the request sent after draining")
    wait_quiet(sink, 0.5)
    counts = received_span_ids(sink)
    assert set(counts) == admitted | set(r.span_ids)
    assert not duplicates(counts)
