use crate::bindings::cloudops::scanner::host;
use crate::Resource;

/// The most resources the host accepts in one `emit` call.
pub const MAX_BATCH: usize = 100;

type Sink<'a> = Box<dyn FnMut(&[Resource]) + 'a>;

/// Hands resources to the host in batches of at most [`MAX_BATCH`].
///
/// Push resources as they are found; full batches go out at once, so the host can store
/// them while the scan goes on. The rest goes out on [`Emitter::finish`], or on drop.
///
/// ```
/// use cloudops_scanner_sdk::{Emitter, Resource};
///
/// let mut batches = Vec::new();
/// let mut out = Emitter::with_sink(|batch: &[Resource]| batches.push(batch.len()));
/// for i in 0..250 {
///     out.push(Resource {
///         resource_type: "ec2_volume".into(),
///         identifier: format!("vol-{i}"),
///         arn: String::new(),
///         name: String::new(),
///         region: "us-east-1".into(),
///         state: None,
///         tags: Vec::new(),
///         relations: Vec::new(),
///         metadata: "{}".into(),
///     });
/// }
/// assert_eq!(out.finish(), 250);
/// assert_eq!(batches, [100, 100, 50]);
/// ```
pub struct Emitter<'a> {
    buf: Vec<Resource>,
    emitted: u32,
    sink: Sink<'a>,
}

impl Emitter<'static> {
    /// An emitter that sends to the host's `emit` import.
    pub fn new() -> Self {
        // The host answers with how many it accepted; it logs and reports why it
        // rejected any, so the scanner has nothing to do about them.
        Emitter::with_sink(|batch| {
            host::emit(batch);
        })
    }
}

impl Default for Emitter<'static> {
    fn default() -> Self {
        Emitter::new()
    }
}

impl<'a> Emitter<'a> {
    /// An emitter that hands its batches to `sink` instead of the host (tests, tools).
    pub fn with_sink(sink: impl FnMut(&[Resource]) + 'a) -> Self {
        Emitter {
            buf: Vec::with_capacity(MAX_BATCH),
            emitted: 0,
            sink: Box::new(sink),
        }
    }

    /// Queues one resource, sending a batch when [`MAX_BATCH`] are queued.
    pub fn push(&mut self, resource: Resource) {
        self.buf.push(resource);
        if self.buf.len() >= MAX_BATCH {
            self.flush();
        }
    }

    /// Sends what is queued now, if anything.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        (self.sink)(&self.buf);
        self.emitted = self.emitted.saturating_add(self.buf.len() as u32);
        self.buf.clear();
    }

    /// Records that `resource_type` was not read completely: see [`crate::incomplete`].
    pub fn incomplete(&mut self, resource_type: &str, why: impl Into<String>) {
        crate::incomplete(resource_type, why);
    }

    /// How many resources were pushed so far (sent or queued).
    pub fn count(&self) -> u32 {
        self.emitted.saturating_add(self.buf.len() as u32)
    }

    /// Sends the rest and returns how many resources were emitted in all, for
    /// `ScanSummary::resources`.
    pub fn finish(mut self) -> u32 {
        self.flush();
        self.emitted
    }
}

impl Extend<Resource> for Emitter<'_> {
    fn extend<I: IntoIterator<Item = Resource>>(&mut self, iter: I) {
        for r in iter {
            self.push(r);
        }
    }
}

impl Drop for Emitter<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(i: usize) -> Resource {
        Resource {
            resource_type: "ec2_instance".into(),
            identifier: format!("i-{i}"),
            arn: format!("arn:aws:ec2:us-east-1:123456789012:instance/i-{i}"),
            name: format!("i-{i}"),
            region: "us-east-1".into(),
            state: Some("running".into()),
            tags: Vec::new(),
            relations: Vec::new(),
            metadata: "{}".into(),
        }
    }

    #[test]
    fn batches_never_exceed_the_limit() {
        let mut sizes = Vec::new();
        let mut out = Emitter::with_sink(|b: &[Resource]| sizes.push(b.len()));
        out.extend((0..201).map(resource));
        assert_eq!(out.count(), 201);
        assert_eq!(out.finish(), 201);
        assert_eq!(sizes, [100, 100, 1]);
    }

    #[test]
    fn dropping_the_emitter_flushes_it() {
        let mut ids = Vec::new();
        {
            let mut out = Emitter::with_sink(|b: &[Resource]| {
                ids.extend(b.iter().map(|r| r.identifier.clone()))
            });
            out.push(resource(1));
            out.push(resource(2));
        }
        assert_eq!(ids, ["i-1", "i-2"]);
    }

    #[test]
    fn an_empty_scan_emits_nothing() {
        let mut calls = 0;
        assert_eq!(Emitter::with_sink(|_: &[Resource]| calls += 1).finish(), 0);
        assert_eq!(calls, 0);
    }
}
