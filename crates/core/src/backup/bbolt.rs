//! A read-only reader of bbolt files (etcd's backend, and its snapshots),
//! enough to walk every bucket in key order and to check the structure: the
//! meta pages and their checksums, page ids inside the file, page kinds where
//! they are expected, no page reached twice. Nothing here writes. Pages are
//! read when they are needed (a file is never held in memory whole: an 8 GiB
//! database is read as it is walked).
//!
//! Layout (bbolt's own, little-endian): every page starts with a 16-byte
//! header (id u64, flags u16, count u16, overflow u32). Pages 0 and 1 are
//! meta pages; the valid one with the higher txid is current. Branch pages
//! hold 16-byte elements (pos u32, ksize u32, pgid u64); leaf pages hold
//! 16-byte elements (flags u32, pos u32, ksize u32, vsize u32), the key and
//! value at `pos` from the element. A leaf element flagged 1 is a bucket: its
//! value is a 16-byte header (root pgid, sequence), followed by the bucket's
//! own page when root is 0 (an inline bucket).

use std::collections::HashSet;
use std::os::unix::fs::FileExt;

use super::SnapshotError;

fn bad(what: impl Into<String>) -> SnapshotError {
    SnapshotError::BadPage(what.into())
}

const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const META: u16 = 0x04;
const FREELIST: u16 = 0x10;
/// The freelist page id bbolt writes when the freelist is not synced.
const NO_FREELIST: u64 = u64::MAX;
const MAGIC: u32 = 0xED0C_DAED;
const BUCKET_LEAF: u32 = 0x01;
/// Deeper than any tree bbolt builds (a branch holds at least two children,
/// so 64 levels would be 2^64 leaves): the walk recurses, and a file chaining
/// branch pages one below the other must not take the stack with it.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub page_size: usize,
    pub root: u64,
    pub freelist: u64,
    /// The high-water page id: the database's size is `pgid * page_size`.
    pub pgid: u64,
    pub txid: u64,
}

/// A file, seen up to `len` bytes (a snapshot without its 32-byte trailer).
pub struct FileSource<'f> {
    pub file: &'f std::fs::File,
    pub len: u64,
}

impl FileSource<'_> {
    /// `len` bytes at `at`, or why not.
    fn read_at(&self, at: u64, len: usize) -> Result<Vec<u8>, SnapshotError> {
        if at.saturating_add(len as u64) > self.len {
            return Err(SnapshotError::CutShort { at });
        }
        let mut buffer = vec![0; len];
        self.file.read_exact_at(&mut buffer, at).map_err(|source| SnapshotError::Read { at, source })?;
        Ok(buffer)
    }
}

/// A bbolt database, read page by page.
pub struct Db<'s> {
    source: &'s FileSource<'s>,
    pub meta: Meta,
}

fn cut_short(at: usize) -> SnapshotError {
    SnapshotError::CutShort { at: at as u64 }
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, SnapshotError> {
    bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).ok_or_else(|| cut_short(at))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, SnapshotError> {
    bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(|| cut_short(at))
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, SnapshotError> {
    bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).ok_or_else(|| cut_short(at))
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
fn fnv64a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Reads the meta page starting at `at`, checking its magic, version and checksum.
fn meta_at(source: &FileSource, at: u64) -> Result<Meta, SnapshotError> {
    let bytes = &source.read_at(at, PAGE_HEADER + 64)?;
    let m = PAGE_HEADER;
    if u32_at(bytes, m)? != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let flags = u16_at(bytes, 8)?;
    if flags != META {
        return Err(bad(format!("the page at byte {at} is not a meta page (flags {flags:#x})")));
    }
    let version = u32_at(bytes, m + 4)?;
    if version != 2 {
        return Err(bad(format!("bbolt version {version}, not 2")));
    }
    let checksum = u64_at(bytes, m + 56)?;
    let body = bytes.get(m..m + 56).ok_or_else(|| bad("cut short in a meta page"))?;
    if fnv64a(body) != checksum {
        return Err(SnapshotError::MetaChecksum { at });
    }
    let page_size = u32_at(bytes, m + 8)? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(format!("page size {page_size} is not a bbolt page size")));
    }
    Ok(Meta {
        page_size,
        root: u64_at(bytes, m + 16)?,
        freelist: u64_at(bytes, m + 32)?,
        pgid: u64_at(bytes, m + 40)?,
        txid: u64_at(bytes, m + 48)?,
    })
}

impl<'s> Db<'s> {
    /// Opens a bbolt file: the current meta page is the valid one with the
    /// higher transaction id.
    pub fn open(source: &'s FileSource<'s>) -> Result<Db<'s>, SnapshotError> {
        if source.len < 2 * 512 {
            return Err(SnapshotError::TooSmall { len: source.len });
        }
        let first = meta_at(source, 0)?;
        let second = meta_at(source, first.page_size as u64);
        let meta = match second {
            Ok(second) if second.txid > first.txid => second,
            _ => first,
        };
        let needed = meta.pgid.saturating_mul(meta.page_size as u64);
        if source.len < needed {
            return Err(SnapshotError::Truncated {
                needed,
                pages: meta.pgid,
                page_size: meta.page_size,
                len: source.len,
            });
        }
        Ok(Db { source, meta })
    }

    /// The database size as bbolt reports it (`tx.Size()`): high-water page id times page size.
    pub fn size(&self) -> u64 {
        self.meta.pgid * self.meta.page_size as u64
    }

    fn page(&self, id: u64) -> Result<(Vec<u8>, u16, usize, u64), SnapshotError> {
        if id < 2 || id >= self.meta.pgid {
            return Err(bad(format!("page {id} is outside the database (2..{})", self.meta.pgid)));
        }
        let start = id * self.meta.page_size as u64;
        let header =
            &self.source.read_at(start, PAGE_HEADER).map_err(|_| SnapshotError::PageCutShort { id, overflow: None })?;
        let stored = u64_at(header, 0)?;
        if stored != id {
            return Err(bad(format!("page {id} says it is page {stored}")));
        }
        let flags = u16_at(header, 8)?;
        let count = usize::from(u16_at(header, 10)?);
        let overflow = u32_at(header, 12)? as usize;
        if id + overflow as u64 >= self.meta.pgid {
            return Err(bad(format!("page {id} (+{overflow} overflow) runs past the database")));
        }
        let page = self
            .source
            .read_at(start, (overflow + 1) * self.meta.page_size)
            .map_err(|_| SnapshotError::PageCutShort { id, overflow: Some(overflow as u64) })?;
        Ok((page, flags, count, overflow as u64))
    }

    /// Calls `visit(key, value, is_bucket)` for every element of the bucket
    /// rooted at `root` (a page id, or an inline page), in key order.
    fn walk(
        &self,
        root: Root,
        depth: usize,
        seen: &mut HashSet<u64>,
        visit: &mut Visit<'_>,
    ) -> Result<(), SnapshotError> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("a tree more than {MAX_DEPTH} levels deep, which bbolt never makes")));
        }
        let (page, flags, count) = match root {
            Root::Page(id) => {
                let (page, flags, count, overflow) = self.page(id)?;
                for used in id..=id + overflow {
                    if !seen.insert(used) {
                        return Err(bad(format!("page {used} is reached twice")));
                    }
                }
                (page, flags, count)
            }
            Root::Inline(page) => {
                let flags = u16_at(&page, 8)?;
                let count = usize::from(u16_at(&page, 10)?);
                (page, flags, count)
            }
        };
        let page = page.as_slice();
        match flags {
            BRANCH => {
                for n in 0..count {
                    let element = PAGE_HEADER + n * ELEMENT;
                    let child = u64_at(page, element + 8)?;
                    self.walk(Root::Page(child), depth + 1, seen, visit)?;
                }
                Ok(())
            }
            LEAF => {
                for n in 0..count {
                    let element = PAGE_HEADER + n * ELEMENT;
                    let element_flags = u32_at(page, element)?;
                    let pos = u32_at(page, element + 4)? as usize;
                    let ksize = u32_at(page, element + 8)? as usize;
                    let vsize = u32_at(page, element + 12)? as usize;
                    let key_at = element + pos;
                    let key = page.get(key_at..key_at + ksize).ok_or_else(|| bad("a key runs past its page"))?;
                    let value = page
                        .get(key_at + ksize..key_at + ksize + vsize)
                        .ok_or_else(|| bad("a value runs past its page"))?;
                    visit(key, value, element_flags & BUCKET_LEAF != 0)?;
                }
                Ok(())
            }
            other => Err(bad(format!("a page of kind {other:#x} where a branch or leaf page belongs"))),
        }
    }

    /// The bucket's root from its header value (the 16 bytes stored under its name).
    fn bucket_root(value: &[u8]) -> Result<Root, SnapshotError> {
        let root = u64_at(value, 0)?;
        if root == 0 {
            Ok(Root::Inline(value.get(16..).ok_or_else(|| bad("an inline bucket is cut short"))?.to_vec()))
        } else {
            Ok(Root::Page(root))
        }
    }

    /// The free pages the freelist names (with their own page ids checked).
    fn free_pages(&self) -> Result<(HashSet<u64>, u64, u64), SnapshotError> {
        let (page, flags, count, overflow) = self.page(self.meta.freelist)?;
        let page = page.as_slice();
        if flags != FREELIST {
            return Err(bad(format!("the freelist page {} is of kind {flags:#x}", self.meta.freelist)));
        }
        // A count of 0xFFFF means the real count is the first element.
        let (count, first) = if count == 0xFFFF {
            (usize::try_from(u64_at(page, PAGE_HEADER)?).map_err(|e| bad(e.to_string()))?, 1)
        } else {
            (count, 0)
        };
        let mut free = HashSet::new();
        let end = usize::checked_add(first, count).ok_or_else(|| bad(format!("the freelist counts {count} pages")))?;
        for n in first..end {
            let id = u64_at(page, PAGE_HEADER + n * 8)?;
            if id < 2 || id >= self.meta.pgid {
                return Err(bad(format!("the freelist names page {id}, outside the database")));
            }
            if !free.insert(id) {
                return Err(bad(format!("the freelist names page {id} twice")));
            }
        }
        Ok((free, self.meta.freelist, overflow))
    }

    /// bbolt's own check (`tx.Check`): every page below the high-water mark is
    /// a meta page, the freelist, free, or reached from the root exactly once.
    pub fn check(&self) -> Result<(), SnapshotError> {
        let mut seen = HashSet::new();
        self.walk_all(&mut seen, &mut |_| Ok(()))?;
        // etcd opens bbolt with NoFreelistSync: no freelist is written, and
        // every page not reached counts as free (as bbolt rebuilds it).
        if self.meta.freelist == NO_FREELIST {
            return Ok(());
        }
        let (free, freelist, overflow) = self.free_pages()?;
        for id in 2..self.meta.pgid {
            let is_freelist = (freelist..=freelist + overflow).contains(&id);
            match (seen.contains(&id), free.contains(&id) || is_freelist) {
                (true, true) => return Err(bad(format!("page {id} is both in use and free"))),
                (false, false) => return Err(bad(format!("page {id} is neither reachable nor free (leaked)"))),
                _ => {}
            }
        }
        Ok(())
    }

    /// Every top-level bucket (name, in order) with its keys and values, in order;
    /// nested buckets are visited with no value, as bbolt's ForEach gives them.
    pub fn for_each(&self, visit: &mut dyn FnMut(Entry<'_>) -> Result<(), SnapshotError>) -> Result<(), SnapshotError> {
        self.walk_all(&mut HashSet::new(), visit)
    }

    fn walk_all(
        &self,
        seen: &mut HashSet<u64>,
        visit: &mut dyn FnMut(Entry<'_>) -> Result<(), SnapshotError>,
    ) -> Result<(), SnapshotError> {
        let mut buckets = Vec::new();
        self.walk(Root::Page(self.meta.root), 0, seen, &mut |name, value, is_bucket| {
            if !is_bucket {
                return Err(bad(format!("a plain key {:?} at the top level, where only buckets belong", lossy(name))));
            }
            buckets.push((name.to_vec(), Self::bucket_root(value)?));
            Ok(())
        })?;
        let mut nested = Vec::new();
        for (name, root) in buckets {
            visit(Entry::Bucket(&name))?;
            self.walk(root, 0, seen, &mut |key, value, is_bucket| {
                if is_bucket {
                    nested.push(Self::bucket_root(value)?);
                }
                visit(Entry::Item { bucket: &name, key, value: if is_bucket { &[] } else { value } })
            })?;
        }
        // Buckets inside buckets (etcd has none): their pages are walked so the check counts them.
        while let Some(root) = nested.pop() {
            let mut inner = Vec::new();
            self.walk(root, 0, seen, &mut |_, value, is_bucket| {
                if is_bucket {
                    inner.push(Self::bucket_root(value)?);
                }
                Ok(())
            })?;
            nested.extend(inner);
        }
        Ok(())
    }
}

/// Called with each element's key, value, and whether it is a bucket.
type Visit<'v> = dyn FnMut(&[u8], &[u8], bool) -> Result<(), SnapshotError> + 'v;

#[derive(Clone)]
enum Root {
    Page(u64),
    Inline(Vec<u8>),
}

/// One thing met while walking the database.
pub enum Entry<'a> {
    Bucket(&'a [u8]),
    Item { bucket: &'a [u8], key: &'a [u8], value: &'a [u8] },
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::snapshot;

    /// Page 0: a meta page of a database of `pgid` pages of 512 bytes; `good_sum` false spoils its checksum.
    fn meta_page(pgid: u64, good_sum: bool) -> Vec<u8> {
        let mut page = vec![0u8; 512];
        page[8..10].copy_from_slice(&META.to_le_bytes());
        let m = PAGE_HEADER;
        page[m..m + 4].copy_from_slice(&MAGIC.to_le_bytes());
        page[m + 4..m + 8].copy_from_slice(&2u32.to_le_bytes());
        page[m + 8..m + 12].copy_from_slice(&512u32.to_le_bytes());
        page[m + 16..m + 24].copy_from_slice(&3u64.to_le_bytes());
        page[m + 32..m + 40].copy_from_slice(&2u64.to_le_bytes());
        page[m + 40..m + 48].copy_from_slice(&pgid.to_le_bytes());
        page[m + 48..m + 56].copy_from_slice(&1u64.to_le_bytes());
        let sum = fnv64a(&page[m..m + 56]) ^ u64::from(!good_sum);
        page[m + 56..m + 64].copy_from_slice(&sum.to_le_bytes());
        page
    }

    fn file_of(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn each_unsound_file_has_its_kind_and_says_what_it_said_before() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str, bytes: &[u8]| snapshot::open(&file_of(dir.path(), name, bytes)).unwrap();

        let empty = snapshot::status(&open("empty.db", &[])).unwrap_err();
        assert!(matches!(empty, SnapshotError::Empty));
        assert_eq!(empty.to_string(), "the file is empty");

        let small = snapshot::status(&open("small.db", &[0; 100])).unwrap_err();
        assert!(matches!(small, SnapshotError::TooSmall { len: 100 }) && small.is_truncated());
        assert_eq!(small.to_string(), "100 bytes: too small for a bbolt database");

        let foreign = snapshot::status(&open("foreign.db", &[0; 2048])).unwrap_err();
        assert!(matches!(foreign, SnapshotError::BadMagic));
        assert_eq!(foreign.to_string(), "no bbolt magic number: not a bbolt database (nor an etcd snapshot)");

        let mut spoiled = meta_page(4, false);
        spoiled.resize(2048, 0);
        let checksum = snapshot::status(&open("checksum.db", &spoiled)).unwrap_err();
        assert!(matches!(checksum, SnapshotError::MetaChecksum { at: 0 }));
        assert_eq!(checksum.to_string(), "the meta page at byte 0 fails its checksum");

        let mut cut = meta_page(10, true);
        cut.resize(1024, 0);
        let truncated = snapshot::structure(&open("truncated.db", &cut)).unwrap_err();
        assert!(truncated.is_truncated(), "{truncated:?}");
        assert!(matches!(&truncated, SnapshotError::Unsound(inner)
            if matches!(**inner, SnapshotError::Truncated { needed: 5120, pages: 10, page_size: 512, len: 1024 })));
        assert_eq!(
            truncated.to_string(),
            "not a sound bbolt database: truncated: the database needs 5120 bytes (10 pages of 512), the file has 1024"
        );

        // 2 pages and etcd's 32-byte trailer, which does not match.
        let trailer = snapshot::verify(&open("trailer.db", &[0; 1056])).unwrap_err();
        assert!(matches!(&trailer, SnapshotError::Sha256Mismatch { stored, .. } if stored == &"00".repeat(32)));
        assert!(trailer.to_string().starts_with(&format!(
            "the SHA-256 at its end does not match its contents (stored {}, computed ",
            "00".repeat(32)
        )));
        assert!(trailer.to_string().ends_with("): the file was changed or damaged after etcd wrote it"));

        let missing = snapshot::open(&dir.path().join("missing.db")).err().unwrap();
        assert!(matches!(missing, SnapshotError::Open { .. }));
        assert!(missing.to_string().starts_with(&format!("cannot read {}: ", dir.path().join("missing.db").display())));
        let directory = snapshot::open(dir.path()).err().unwrap();
        assert!(matches!(directory, SnapshotError::NotAFile { .. }));
        assert_eq!(
            directory.to_string(),
            format!("cannot read {}: it is a directory, not a snapshot file", dir.path().display())
        );
        assert_eq!(
            SnapshotError::PageCutShort { id: 7, overflow: Some(2) }.to_string(),
            "page 7 (+2 overflow) is cut short"
        );
        assert_eq!(SnapshotError::PageCutShort { id: 7, overflow: None }.to_string(), "page 7 is cut short");
    }

    /// A 512-byte page: its header (id, flags, count) and `body` after it.
    fn page_of(id: u64, flags: u16, count: u16, body: &[u8]) -> Vec<u8> {
        let mut page = vec![0u8; 512];
        page[0..8].copy_from_slice(&id.to_le_bytes());
        page[8..10].copy_from_slice(&flags.to_le_bytes());
        page[10..12].copy_from_slice(&count.to_le_bytes());
        page[PAGE_HEADER..PAGE_HEADER + body.len()].copy_from_slice(body);
        page
    }

    /// A database of `pages` (from page 2 on) after the meta pages.
    fn database(pages: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = meta_page(2 + pages.len() as u64, true);
        bytes.resize(1024, 0);
        for page in pages {
            bytes.extend_from_slice(page);
        }
        bytes
    }

    #[test]
    fn a_freelist_whose_count_overflows_is_unsound_not_a_panic() {
        // Found while writing the reader's fuzz target: a count of 0xFFFF takes the
        // real count from the first element; u64::MAX there overflowed `first + count`.
        let dir = tempfile::tempdir().unwrap();
        let freelist = page_of(2, FREELIST, 0xFFFF, &u64::MAX.to_le_bytes());
        let root = page_of(3, LEAF, 0, &[]);
        let path = file_of(dir.path(), "freelist.db", &database(&[freelist, root]));
        let error = snapshot::structure(&snapshot::open(&path).unwrap()).unwrap_err();
        assert!(error.to_string().contains("the freelist"), "{error}");
    }

    #[test]
    fn a_tree_deeper_than_bbolt_makes_is_unsound_not_a_stack_overflow() {
        // Found while writing the reader's fuzz target: branch pages chained one
        // below the other, each met once, were walked by recursion until the
        // stack overflowed and the process aborted.
        let dir = tempfile::tempdir().unwrap();
        let depth = 20_000u64;
        let mut pages = vec![page_of(2, FREELIST, 0, &[])];
        for id in 3..3 + depth {
            let mut element = [0u8; 16];
            element[8..16].copy_from_slice(&(id + 1).to_le_bytes());
            pages.push(page_of(id, BRANCH, 1, &element));
        }
        pages.push(page_of(3 + depth, LEAF, 0, &[]));
        let path = file_of(dir.path(), "deep.db", &database(&pages));
        let file = snapshot::open(&path).unwrap();
        let error = snapshot::status(&file).unwrap_err();
        assert!(error.to_string().contains("more than 64 levels deep"), "{error}");
        let error = snapshot::structure(&file).unwrap_err();
        assert!(error.to_string().contains("more than 64 levels deep"), "{error}");
    }
}
