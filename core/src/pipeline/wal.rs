//! The write-ahead log behind persistent sending queues (`sending_queue.storage`).
//!
//! A pipeline whose exporters persist appends every admitted request here before
//! the receiver answers, so an acknowledged request survives `kill -9` even while
//! it sits in a batcher. Records are `[len u32][crc32 u32][seq u64][payload]` in
//! segment files `seg-<first seq>.wal`; a record is done when every exporter has
//! sent it (or dropped it for good), and the contiguous done prefix — the
//! watermark — is stored in `ack` so a restart replays only what was not done.
//! Records completed after the last watermark write, or out of order behind a slow
//! one, are replayed again after a crash (at-least-once; see the README).
//!
//! Appends write under a lock from the caller (one `writev`, no copy); with
//! `fsync` a background thread syncs the file once for all appends waiting
//! (group commit) before they are acknowledged. Torn or corrupt records (a crash
//! mid-write) are detected by length, CRC and sequence number, skipped, counted
//! and logged; the rest is recovered.
//!
//! Released segments are not deleted but renamed to `spare-*.wal` (up to
//! [`MAX_SPARES`]) and overwritten in place by the next segments: rewriting pages
//! the page cache already holds costs a copy, while a new file costs a page
//! allocation, a delayed-allocation reservation and, at unlink, the eviction of
//! every page (together ~15% of the collector's CPU at full load). Because a
//! recycled file still holds old bytes past the new ones, every append also
//! writes a zero header after its record (overwritten by the next append), and
//! recovery accepts a record only if its sequence number is the next one the
//! segment's name implies.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::oneshot;

use super::ack::{Ack, AckTarget};
use crate::telemetry::metrics::Counter;

const HEADER: usize = 16;
/// Larger records are not written (the receivers' own limits are far below).
pub const MAX_RECORD: usize = 256 * 1024 * 1024;
const ACK_FILE: &str = "ack";
/// Released segment files kept for reuse (each about `segment_bytes` on disk).
pub const MAX_SPARES: usize = 2;
/// Written after every record; a zero header marks where a segment's data ends.
const END: [u8; HEADER] = [0; HEADER];
/// How far past a damaged record recovery looks for the next good one.
const RESYNC_SEQS: u64 = 1 << 32;

/// Settings of one log.
#[derive(Debug, Clone)]
pub struct WalSettings {
    pub dir: PathBuf,
    /// Sync data to disk before acknowledging an append.
    pub fsync: bool,
    /// Most records not yet done; appends beyond are refused.
    pub capacity: usize,
    /// A new segment starts once the current one is this large.
    pub segment_bytes: u64,
}

#[derive(Debug, Error)]
pub enum WalError {
    #[error("persistent queue is full")]
    Full,
    #[error("persistent queue I/O error: {0}")]
    Io(String),
}

enum Cmd {
    /// Sync this segment file, then answer.
    Sync(Arc<File>, oneshot::Sender<Result<(), String>>),
    /// The watermark advanced: store [`WatermarkSignal::latest`].
    Watermark,
}

/// The newest watermark to store, and whether the syncer has been woken for it
/// (at most one wake-up is outstanding, however fast acknowledgements come).
#[derive(Default)]
struct WatermarkSignal {
    latest: std::sync::atomic::AtomicU64,
    woken: std::sync::atomic::AtomicBool,
}

/// Without fsync, the syncer lets acknowledgements accumulate this long before
/// storing the watermark, so it wakes at most ~500 times a second instead of once
/// per exported batch (each wake-up is a context switch on the collector's core).
/// After a crash, records exported within this window are sent again.
const WATERMARK_COALESCE: std::time::Duration = std::time::Duration::from_millis(2);

/// A record recovered at start, to be replayed.
pub struct Recovered {
    pub seq: u64,
    pub payload: Bytes,
}

/// The log. Cheap to share (`Arc`).
pub struct Wal {
    log: Arc<Mutex<Log>>,
    tx: Mutex<mpsc::Sender<Cmd>>,
    acks: Arc<AckState>,
    capacity: usize,
    fsync: bool,
}

/// Segment files by the sequence number of their first record, oldest first.
type Segments = Vec<(u64, PathBuf)>;

/// The segment files. Appends write under this lock from the caller's thread
/// (a `write` to the page cache is microseconds; no thread hop on the hot path).
struct Log {
    settings: WalSettings,
    segments: Segments,
    current: Arc<File>,
    current_len: u64,
    next_seq: u64,
    /// Released segment files waiting to be reused, most recently released last.
    spares: Vec<PathBuf>,
}

struct AckState {
    inner: Mutex<AckInner>,
    unacked: AtomicUsize,
    /// Set at the end of shutdown: whatever is dropped after this was not sent.
    sealed: std::sync::atomic::AtomicBool,
    tx: Mutex<mpsc::Sender<Cmd>>,
    signal: Arc<WatermarkSignal>,
}

struct AckInner {
    watermark: u64,
    done: BTreeSet<u64>,
}

impl AckTarget for AckState {
    fn complete(&self, seq: u64) {
        if self.sealed.load(Ordering::Acquire) {
            return;
        }
        let advanced = {
            let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if seq < s.watermark || !s.done.insert(seq) {
                return;
            }
            let before = s.watermark;
            while s.done.first() == Some(&s.watermark) {
                let w = s.watermark;
                s.done.remove(&w);
                s.watermark += 1;
            }
            (s.watermark != before).then_some(s.watermark)
        };
        self.unacked.fetch_sub(1, Ordering::AcqRel);
        if let Some(w) = advanced {
            self.signal.latest.fetch_max(w, Ordering::AcqRel);
            if !self.signal.woken.swap(true, Ordering::AcqRel) {
                let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
                let _ = tx.send(Cmd::Watermark);
            }
        }
    }
}

impl Wal {
    /// Opens (creating) the log in `settings.dir`, recovering what is not done.
    /// `corrupted` counts records skipped because they were torn or damaged.
    pub fn open(
        settings: WalSettings,
        corrupted: Counter,
    ) -> io::Result<(Arc<Wal>, Vec<Recovered>)> {
        fs::create_dir_all(&settings.dir)?;
        let ack_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(settings.dir.join(ACK_FILE))?;
        let watermark = read_watermark(&ack_file).unwrap_or(1);
        let (mut segments, stale_spares) = list_files(&settings.dir)?;
        let mut recovered = Vec::new();
        let mut max_seq = watermark.saturating_sub(1);
        for (first, path) in &segments {
            let (records, bad) = read_segment(path, *first)?;
            if bad > 0 {
                corrupted.inc_by(bad);
                tracing::warn!(file = %path.display(), skipped_records = bad, "Skipped torn or corrupt records in the persistent queue.");
            }
            for (seq, payload) in records {
                max_seq = max_seq.max(seq);
                if seq >= watermark {
                    recovered.push(Recovered { seq, payload });
                }
            }
        }
        recovered.sort_by_key(|r| r.seq);
        recovered.dedup_by_key(|r| r.seq);
        let next_seq = max_seq + 1;
        // Sequence numbers between the watermark and the end that were not recovered
        // (corrupt records) count as done, so they never hold the watermark back.
        let present: BTreeSet<u64> = recovered.iter().map(|r| r.seq).collect();
        let done: BTreeSet<u64> = (watermark..next_seq)
            .filter(|s| !present.contains(s))
            .collect();
        let mut inner = AckInner { watermark, done };
        while inner.done.first() == Some(&inner.watermark) {
            let w = inner.watermark;
            inner.done.remove(&w);
            inner.watermark += 1;
        }
        // New appends go to a fresh segment; old ones are released once acknowledged.
        let path = settings.dir.join(segment_name(next_seq));
        let current = Arc::new(open_new_segment(&path)?);
        segments.push((next_seq, path));
        let (tx, rx) = mpsc::channel::<Cmd>();
        let signal = Arc::new(WatermarkSignal::default());
        let acks = Arc::new(AckState {
            signal: signal.clone(),
            inner: Mutex::new(inner),
            unacked: AtomicUsize::new(recovered.len()),
            sealed: std::sync::atomic::AtomicBool::new(false),
            tx: Mutex::new(tx.clone()),
        });
        let log = Arc::new(Mutex::new(Log {
            settings: settings.clone(),
            segments,
            current,
            current_len: 0,
            next_seq,
            spares: Vec::new(),
        }));
        let syncer = Syncer {
            stale_spares,
            rx,
            signal,
            ack_file,
            log: log.clone(),
            fsync: settings.fsync,
        };
        std::thread::Builder::new()
            .name("tern-wal".into())
            .spawn(move || syncer.run())?;
        if !recovered.is_empty() {
            tracing::info!(dir = %settings.dir.display(), records = recovered.len(), "Recovered unsent data from the persistent queue.");
        }
        Ok((
            Arc::new(Wal {
                log,
                tx: Mutex::new(tx),
                acks,
                capacity: settings.capacity,
                fsync: settings.fsync,
            }),
            recovered,
        ))
    }

    /// Appends a record (durably, with `fsync`) and returns its token.
    pub async fn append(&self, payload: Bytes) -> Result<Ack, WalError> {
        if payload.len() > MAX_RECORD {
            return Err(WalError::Io(format!(
                "record of {} bytes exceeds {MAX_RECORD}",
                payload.len()
            )));
        }
        if self.acks.unacked.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.acks.unacked.fetch_sub(1, Ordering::AcqRel);
            return Err(WalError::Full);
        }
        let written = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.append(&payload)
        };
        let result = match written {
            Ok((seq, file)) if self.fsync => {
                let (done, wait) = oneshot::channel();
                let sent = self
                    .tx
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .send(Cmd::Sync(file, done))
                    .is_ok();
                let synced = if sent {
                    wait.await.unwrap_or_else(|_| Err("syncer stopped".into()))
                } else {
                    Err("syncer stopped".into())
                };
                synced.map(|()| seq)
            }
            Ok((seq, _)) => Ok(seq),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(seq) => Ok(Ack::new(seq, self.acks.clone())),
            Err(e) => {
                self.acks.unacked.fetch_sub(1, Ordering::AcqRel);
                Err(WalError::Io(e))
            }
        }
    }

    /// The token for a recovered record.
    pub fn recovered_ack(&self, seq: u64) -> Ack {
        Ack::new(seq, self.acks.clone())
    }

    /// Stops completing records: called once shutdown has delivered what it could,
    /// so data dropped while the process winds down stays on disk for the next start.
    pub fn seal(&self) {
        self.acks.sealed.store(true, Ordering::Release);
    }

    /// Records not yet done.
    pub fn unacked(&self) -> usize {
        self.acks.unacked.load(Ordering::Acquire)
    }

    /// The current watermark (all records below it are done).
    pub fn watermark(&self) -> u64 {
        self.acks
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .watermark
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("seg-{first_seq:020}.wal")
}

/// The segment files in `dir` (by first sequence number) and the spare files.
fn list_files(dir: &Path) -> io::Result<(Segments, Vec<PathBuf>)> {
    let mut segments = Vec::new();
    let mut spares = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if stem.starts_with("spare-") {
            spares.push(entry.path());
        } else if let Some(Ok(first)) = stem.strip_prefix("seg-").map(str::parse::<u64>) {
            segments.push((first, entry.path()));
        }
    }
    segments.sort();
    Ok((segments, spares))
}

fn read_watermark(f: &File) -> Option<u64> {
    let mut buf = [0u8; 12];
    f.read_exact_at(&mut buf, 0).ok()?;
    let w = u64::from_le_bytes(buf[..8].try_into().ok()?);
    let crc = u32::from_le_bytes(buf[8..].try_into().ok()?);
    (crc32fast::hash(&buf[..8]) == crc && w > 0).then_some(w)
}

fn spare_name(segment: &Path) -> PathBuf {
    let name = segment
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    segment.with_file_name(format!("spare-{name}"))
}

/// Creates a segment file; writes start at offset 0.
fn open_new_segment(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// One record header as read from a segment.
#[derive(Clone, Copy)]
struct Header {
    len: usize,
    crc: u32,
    seq: u64,
}

fn header_at(data: &[u8], pos: usize) -> Option<Header> {
    let h = data.get(pos..pos + HEADER)?;
    Some(Header {
        len: u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
        crc: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        seq: u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
    })
}

/// The payload range of the record at `pos` if its header, length and CRC hold.
fn valid_record(data: &[u8], pos: usize, h: Header) -> Option<std::ops::Range<usize>> {
    let start = pos + HEADER;
    if h.len > MAX_RECORD || data.len() - start < h.len {
        return None;
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h.seq.to_le_bytes());
    hasher.update(&data[start..start + h.len]);
    (hasher.finalize() == h.crc).then_some(start..start + h.len)
}

/// The next valid record after a damaged one at `pos`: its offset and sequence
/// number, if one with a later number follows (a record whose header was
/// damaged); `None` when only old bytes of a recycled file or a torn tail follow.
fn resync(data: &[u8], pos: usize, expected: u64) -> Option<(usize, u64)> {
    let mut q = pos + 1;
    while let Some(h) = header_at(data, q) {
        let ahead = h.seq.wrapping_sub(expected);
        if ahead > 0 && ahead < RESYNC_SEQS && valid_record(data, q, h).is_some() {
            return Some((q, h.seq));
        }
        q += 1;
    }
    None
}

/// Reads the segment whose first record is `first`: its valid records and how
/// many were skipped. Data ends at a zero header, at the end of the file, or
/// where no record with the next sequence number follows (the old contents of a
/// recycled file); the file is cut there.
fn read_segment(path: &Path, first: u64) -> io::Result<(Vec<(u64, Bytes)>, u64)> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let data = Bytes::from(data);
    let mut records = Vec::new();
    let mut bad = 0;
    let mut pos = 0;
    let mut expected = first;
    while pos < data.len() {
        let Some(h) = header_at(&data, pos) else {
            // A header cut short at the end of the file: a torn write.
            bad += 1;
            break;
        };
        if h.len == 0 && h.crc == 0 && h.seq == 0 {
            break;
        }
        if h.seq == expected {
            if let Some(range) = valid_record(&data, pos, h) {
                records.push((h.seq, data.slice(range.clone())));
                pos = range.end;
                expected += 1;
                continue;
            }
        }
        // Damaged: a torn write at the end, or a bad record in the middle.
        match resync(&data, pos, expected) {
            Some((next, seq)) => {
                bad += seq - expected;
                expected = seq;
                pos = next;
            }
            None => {
                // Old bytes of a recycled file are not damage; a record that
                // claims the next number but does not check out is.
                if h.seq == expected {
                    bad += 1;
                }
                break;
            }
        }
    }
    if pos < data.len() {
        OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(pos as u64)?;
    }
    Ok((records, bad))
}

impl Log {
    /// Writes one record (header and payload in one `writev`, no copy) and
    /// returns its sequence number and the file it went to.
    fn append(&mut self, payload: &[u8]) -> io::Result<(u64, Arc<File>)> {
        let seq = self.next_seq;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&seq.to_le_bytes());
        hasher.update(payload);
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        header[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
        header[8..].copy_from_slice(&seq.to_le_bytes());
        let written = write_all_vectored(
            &self.current,
            &mut [
                io::IoSlice::new(&header),
                io::IoSlice::new(payload),
                io::IoSlice::new(&END),
            ],
        )
        .and_then(|()| {
            // The next record overwrites the end marker.
            (&*self.current).seek(io::SeekFrom::Current(-(HEADER as i64)))
        });
        if let Err(e) = written {
            // Never leave a torn record in the middle of the file.
            let _ = self.current.set_len(self.current_len);
            let _ = (&*self.current).seek(io::SeekFrom::Start(self.current_len));
            return Err(e);
        }
        self.next_seq += 1;
        self.current_len += (HEADER + payload.len()) as u64;
        let file = self.current.clone();
        if self.current_len >= self.settings.segment_bytes {
            if self.settings.fsync {
                file.sync_data()?;
            }
            let path = self.settings.dir.join(segment_name(self.next_seq));
            self.current = Arc::new(self.next_segment(&path)?);
            self.current_len = 0;
            self.segments.push((self.next_seq, path));
            if self.settings.fsync {
                File::open(&self.settings.dir)?.sync_all()?;
            }
        }
        Ok((seq, file))
    }

    /// Opens the file for the segment at `path`: a spare renamed, else a new file.
    fn next_segment(&mut self, path: &Path) -> io::Result<File> {
        while let Some(spare) = self.spares.pop() {
            match fs::rename(&spare, path) {
                Ok(()) => return OpenOptions::new().write(true).open(path),
                Err(e) => {
                    tracing::warn!(file = %spare.display(), error = %e, "Cannot reuse a persistent queue segment; creating a new one.");
                    let _ = fs::remove_file(&spare);
                }
            }
        }
        open_new_segment(path)
    }

    /// Segments whose records are all below the watermark (never the current one).
    fn take_released(&mut self, watermark: u64) -> Vec<PathBuf> {
        let mut out = Vec::new();
        while self.segments.len() > 1 && self.segments[1].0 <= watermark {
            out.push(self.segments.remove(0).1);
        }
        out
    }
}

fn write_all_vectored(mut file: &File, mut bufs: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        let n = file.write_vectored(bufs)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to the persistent queue",
            ));
        }
        io::IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// An append waiting for its segment to be synced.
type SyncWaiter = (Arc<File>, oneshot::Sender<Result<(), String>>);

/// The background thread: group-commits syncs, stores the watermark, keeps
/// released segments as spares or deletes them.
struct Syncer {
    /// Spare files left by an earlier run, deleted once running.
    stale_spares: Vec<PathBuf>,
    rx: mpsc::Receiver<Cmd>,
    signal: Arc<WatermarkSignal>,
    ack_file: File,
    log: Arc<Mutex<Log>>,
    fsync: bool,
}

impl Syncer {
    fn run(mut self) {
        for path in std::mem::take(&mut self.stale_spares) {
            let _ = fs::remove_file(path);
        }
        while let Ok(first) = self.rx.recv() {
            let mut waiters: Vec<SyncWaiter> = Vec::new();
            let mut watermark = false;
            let mut cmd = Some(first);
            while let Some(c) = cmd.take() {
                match c {
                    Cmd::Sync(file, done) => waiters.push((file, done)),
                    Cmd::Watermark => watermark = true,
                }
                cmd = self.rx.try_recv().ok();
            }
            let waiters_were_empty = waiters.is_empty();
            // One sync per distinct file covers every write made before it.
            let mut synced: Vec<(Arc<File>, Result<(), String>)> = Vec::new();
            for (file, done) in waiters {
                let result = match synced.iter().find(|(f, _)| Arc::ptr_eq(f, &file)) {
                    Some((_, r)) => r.clone(),
                    None => {
                        let r = file.sync_data().map_err(|e| e.to_string());
                        synced.push((file, r.clone()));
                        r
                    }
                };
                let _ = done.send(result);
            }
            if watermark {
                if !self.fsync && waiters_were_empty {
                    std::thread::sleep(WATERMARK_COALESCE);
                }
                // Clear before reading: an advance after the read wakes us again.
                self.signal.woken.store(false, Ordering::Release);
                let w = self.signal.latest.load(Ordering::Acquire);
                if let Err(e) = self.store_watermark(w) {
                    tracing::error!(error = %e, "Failed to store the persistent queue's acknowledgement.");
                }
            }
        }
    }

    fn store_watermark(&self, w: u64) -> io::Result<()> {
        let mut rec = [0u8; 12];
        rec[..8].copy_from_slice(&w.to_le_bytes());
        rec[8..].copy_from_slice(&crc32fast::hash(&w.to_le_bytes()).to_le_bytes());
        self.ack_file.write_all_at(&rec, 0)?;
        if self.fsync {
            self.ack_file.sync_data()?;
        }
        let (released, room) = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            let released = log.take_released(w);
            (released, MAX_SPARES.saturating_sub(log.spares.len()))
        };
        // Keep the most recently released files (their pages are the likeliest
        // to still be cached) for reuse; delete the rest.
        let keep_from = released.len().saturating_sub(room);
        let mut kept = Vec::new();
        for (i, path) in released.into_iter().enumerate() {
            if i >= keep_from {
                let spare = spare_name(&path);
                if fs::rename(&path, &spare).is_ok() {
                    kept.push(spare);
                    continue;
                }
            }
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "Failed to delete an acknowledged queue segment.");
            }
        }
        if !kept.is_empty() {
            self.log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .spares
                .extend(kept);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, capacity: usize) -> WalSettings {
        WalSettings {
            dir: dir.to_path_buf(),
            fsync: true,
            capacity,
            segment_bytes: 200,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tern-wal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    async fn settle(wal: &Wal, watermark: u64) {
        for _ in 0..200 {
            if wal.watermark() >= watermark {
                // Give the writer a moment to persist it.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("watermark stuck at {}", wal.watermark());
    }

    #[tokio::test]
    async fn replays_only_what_was_not_done_and_compacts() {
        let dir = tmp("replay");
        {
            let (wal, rec) = Wal::open(settings(&dir, 100), Counter::default()).unwrap();
            assert!(rec.is_empty());
            let mut acks = Vec::new();
            for i in 0..10u8 {
                acks.push(wal.append(Bytes::from(vec![i; 50])).await.unwrap());
            }
            // Records 1..=4 done, 5 kept (abandoned), 6 done out of order, rest pending.
            let mut acks = acks.into_iter();
            for _ in 0..4 {
                drop(acks.next());
            }
            let five = acks.next().unwrap();
            five.abandon();
            drop(five);
            drop(acks.next());
            settle(&wal, 5).await;
            assert_eq!(wal.unacked(), 5);
            std::mem::forget(acks); // a crash: nothing else completes
        }
        let segments_left = list_files(&dir).unwrap().0.len();
        let (wal, rec) = Wal::open(settings(&dir, 100), Counter::default()).unwrap();
        let seqs: Vec<u64> = rec.iter().map(|r| r.seq).collect();
        // 6 was done but sits behind 5: replayed again (at-least-once).
        assert_eq!(seqs, vec![5, 6, 7, 8, 9, 10]);
        assert_eq!(rec[0].payload, Bytes::from(vec![4u8; 50]));
        assert!(
            segments_left < 10,
            "acknowledged segments are deleted ({segments_left} left)"
        );
        assert_eq!(wal.unacked(), 6);
        for r in &rec {
            drop(wal.recovered_ack(r.seq));
        }
        let next = wal.append(Bytes::from_static(b"new")).await.unwrap();
        assert_eq!(next.seq(), 11);
    }

    /// Leaves `dir` as a crash would with `count` pending records of `size`
    /// bytes (byte values 0, 1, …) in one segment, and returns that segment.
    async fn crash_with_one_segment(dir: &Path, count: u8, size: usize) -> PathBuf {
        let (wal, _) = Wal::open(
            WalSettings {
                segment_bytes: 1 << 20,
                ..settings(dir, 100)
            },
            Counter::default(),
        )
        .unwrap();
        for i in 0..count {
            std::mem::forget(wal.append(Bytes::from(vec![i; size])).await.unwrap());
        }
        list_files(dir)
            .unwrap()
            .0
            .into_iter()
            .map(|(_, p)| p)
            .find(|p| fs::metadata(p).unwrap().len() > 0)
            .unwrap()
    }

    #[tokio::test]
    async fn torn_and_corrupt_records_are_skipped_and_counted() {
        let dir = tmp("torn");
        let seg = crash_with_one_segment(&dir, 5, 40).await;
        let len = fs::metadata(&seg).unwrap().len();
        // Flip a payload byte of record 2 and cut record 5 in half.
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&seg)
            .unwrap();
        f.write_all_at(&[0xff], (HEADER + 40 + HEADER + 3) as u64)
            .unwrap();
        f.set_len(len - 20).unwrap();
        let corrupted = Counter::default();
        let (wal, rec) = Wal::open(settings(&dir, 100), corrupted.clone()).unwrap();
        assert_eq!(rec.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(corrupted.get(), 2);
        for r in &rec {
            drop(wal.recovered_ack(r.seq));
        }
        // Record 5 was torn: its number is reused by the next append.
        settle(&wal, 5).await;
        assert_eq!(wal.append(Bytes::from_static(b"x")).await.unwrap().seq(), 5);
    }

    /// Leaves `dir` as a crash would: records 1..=12 (150 bytes) released, their
    /// segments partly recycled; 13..=20 (20 bytes) pending, 19 and 20 in a
    /// reused file whose old bytes follow them. Returns that file.
    async fn crash_with_a_recycled_segment(dir: &Path) -> PathBuf {
        let (wal, _) = Wal::open(settings(dir, 1000), Counter::default()).unwrap();
        for i in 0..12u8 {
            drop(wal.append(Bytes::from(vec![i; 150])).await.unwrap());
        }
        settle(&wal, 13).await;
        let spares = list_files(dir).unwrap().1.len();
        assert!((1..=MAX_SPARES).contains(&spares), "{spares} spare files");
        let mut pending = Vec::new();
        for i in 0..8u8 {
            pending.push(wal.append(Bytes::from(vec![100 + i; 20])).await.unwrap());
        }
        std::mem::forget(pending);
        let reused = dir.join(segment_name(19));
        let len = fs::metadata(&reused).unwrap().len() as usize;
        assert!(
            len > 2 * (HEADER + 20) + HEADER,
            "segment 19 reuses a released file ({len} bytes)"
        );
        let (segments, spares) = list_files(dir).unwrap();
        assert!(segments.len() + spares.len() <= 6);
        reused
    }

    #[tokio::test]
    async fn reused_segments_recover_only_their_new_records() {
        let dir = tmp("recycle");
        crash_with_a_recycled_segment(&dir).await;
        let corrupted = Counter::default();
        let (wal, rec) = Wal::open(settings(&dir, 1000), corrupted.clone()).unwrap();
        assert_eq!(
            rec.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (13..=20).collect::<Vec<_>>()
        );
        for (i, r) in rec.iter().enumerate() {
            assert_eq!(r.payload, Bytes::from(vec![100 + i as u8; 20]));
        }
        assert_eq!(corrupted.get(), 0, "old bytes are not damage");
        assert_eq!(wal.unacked(), 8);
        // Spare files of the earlier run are deleted in the background.
        for _ in 0..200 {
            if list_files(&dir).unwrap().1.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(list_files(&dir).unwrap().1.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn torn_record_in_a_reused_segment_is_counted() {
        let dir = tmp("recycle-torn");
        let reused = crash_with_a_recycled_segment(&dir).await;
        // Record 20 torn: its payload damaged and the end marker never written.
        let f = OpenOptions::new().write(true).open(&reused).unwrap();
        let last = (HEADER + 20) as u64;
        f.write_all_at(&[0xee], last + HEADER as u64 + 5).unwrap();
        f.write_all_at(&[0xaa; HEADER], last + (HEADER + 20) as u64)
            .unwrap();
        let corrupted = Counter::default();
        let (_, rec) = Wal::open(settings(&dir, 1000), corrupted.clone()).unwrap();
        assert_eq!(
            rec.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (13..=19).collect::<Vec<_>>()
        );
        assert_eq!(corrupted.get(), 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn damaged_header_is_skipped_and_the_rest_recovered() {
        let dir = tmp("header");
        let seg = crash_with_one_segment(&dir, 6, 30).await;
        // The sequence number of record 3 and the length of record 5.
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        let at = |n: u64| (n - 1) * (HEADER + 30) as u64;
        f.write_all_at(&[0x77], at(3) + 9).unwrap();
        f.write_all_at(&[0x05], at(5) + 1).unwrap();
        let corrupted = Counter::default();
        let (_, rec) = Wal::open(settings(&dir, 100), corrupted.clone()).unwrap();
        assert_eq!(
            rec.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 4, 6]
        );
        assert_eq!(corrupted.get(), 2);
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn refuses_beyond_capacity() {
        let dir = tmp("cap");
        let (wal, _) = Wal::open(settings(&dir, 2), Counter::default()).unwrap();
        let a = wal.append(Bytes::from_static(b"a")).await.unwrap();
        let _b = wal.append(Bytes::from_static(b"b")).await.unwrap();
        assert!(matches!(
            wal.append(Bytes::from_static(b"c")).await,
            Err(WalError::Full)
        ));
        drop(a);
        assert!(wal.append(Bytes::from_static(b"c")).await.is_ok());
        let _ = fs::remove_dir_all(&dir);
    }
}
