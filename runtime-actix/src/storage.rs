//! Durable protocol state on local disk.
//!
//! [`FileStore::save`] writes to a temporary file, fsyncs it, renames it over the state file
//! and fsyncs the directory, so after a crash the state file holds either the old or the
//! new state, whole. It returns only when the state is durable: the protocol's `Persist`
//! barrier.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file-backed store for one node's durable state.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
}

const STATE_FILE: &str = "state.bin";
const TEMP_FILE: &str = "state.bin.tmp";
const PROBE_FILE: &str = "write-probe.tmp";

impl FileStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(FileStore { dir })
    }

    /// The directory holding the state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fails unless a file can be created, written, fsynced and removed in the directory:
    /// checked at start, so a read-only or full disk is a start-up error, not a crash at the
    /// first persist.
    pub fn check_writable(&self) -> io::Result<()> {
        let probe = self.dir.join(PROBE_FILE);
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&probe)?;
        f.write_all(b"palisade")?;
        f.sync_all()?;
        drop(f);
        fs::remove_file(&probe)
    }

    /// The last saved state, or `None` if nothing was ever saved.
    pub fn load(&self) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.dir.join(STATE_FILE)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the saved state with `bytes`, durably, before returning.
    pub fn save(&self, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.dir.join(TEMP_FILE);
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(STATE_FILE))?;
        // The rename is durable only once the directory entry is.
        File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("palisade-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn save_then_load_round_trips_and_replaces() {
        let dir = scratch_dir("roundtrip");
        let store = FileStore::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.save(b"first").unwrap();
        store.save(b"second").unwrap();
        assert_eq!(FileStore::open(&dir).unwrap().load().unwrap(), Some(b"second".to_vec()));
        assert!(!dir.join(TEMP_FILE).exists(), "the temporary file was renamed away");
        store.check_writable().unwrap();
        assert!(!dir.join(PROBE_FILE).exists(), "the probe is removed");
        fs::remove_dir_all(&dir).unwrap();
    }
}
