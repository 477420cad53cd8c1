//! A file-backed [`Storage`]: the process's durable writes, as the driver
//! carries them out on a real machine. Every write, delete and range delete
//! is appended to a journal file as a JSON line; `sync` flushes the file,
//! appends a `sync` marker and fsyncs. Opening a journal replays it up to
//! its last marker and cuts the rest off, so what a process wrote but did
//! not sync before the machine stopped is lost, exactly as the simulator's
//! disk loses it on a crash.
//!
//! A failed write stops the node (a panic, which the example reports as
//! that node's failure). A failed fsync is returned as `SyncFailed`: the
//! process halts (`Ctx::sync`), and the driver stops the node, since after
//! a failed fsync the file's state is unknown and carrying on could
//! acknowledge what was never stored (PostgreSQL does the same since
//! "fsyncgate").

use faultline::process::{Disk, DiskKey, Storage, SyncFailed};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// One journal line.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line<V> {
    Write { space: String, index: u64, value: V },
    Delete { space: String, index: u64 },
    DeleteRange { space: String, from: u64, to: u64 },
    Sync,
}

/// A process's journal file.
pub struct Journal<V> {
    file: BufWriter<File>,
    /// Namespace names read back from the file, as `DiskKey` needs them.
    spaces: BTreeMap<String, &'static str>,
    _value: std::marker::PhantomData<fn(V)>,
}

impl<V: Clone + Serialize + DeserializeOwned> Journal<V> {
    /// Opens (or creates) the journal at `path`: what it held durably, and
    /// the journal, ready to append to.
    pub fn open(path: &Path) -> std::io::Result<(Journal<V>, Disk<V>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut journal = Journal {
            file: BufWriter::new(file.try_clone()?),
            spaces: BTreeMap::new(),
            _value: std::marker::PhantomData,
        };
        let (disk, synced_len) = journal.replay(&file, path)?;
        file.set_len(synced_len)?;
        journal.file.seek(SeekFrom::Start(synced_len))?;
        Ok((journal, disk))
    }

    /// The disk the journal describes up to its last `sync`, and the byte
    /// length of that prefix.
    fn replay(&mut self, file: &File, path: &Path) -> std::io::Result<(Disk<V>, u64)> {
        let mut disk = Disk::default();
        let (mut offset, mut synced_len) = (0u64, 0u64);
        let mut reader = BufReader::new(file);
        let mut text = String::new();
        for number in 1.. {
            text.clear();
            let read = reader.read_line(&mut text)?;
            if read == 0 || !text.ends_with('\n') {
                break; // the end, or a line cut short by a crash
            }
            offset += read as u64;
            let line: Line<V> = serde_json::from_str(&text).map_err(|e| {
                let at = format!("{}:{number}: {e}", path.display());
                std::io::Error::new(std::io::ErrorKind::InvalidData, at)
            })?;
            match line {
                Line::Write {
                    space,
                    index,
                    value,
                } => disk.write(DiskKey::new(self.space(space), index), value),
                Line::Delete { space, index } => {
                    disk.delete(DiskKey::new(self.space(space), index))
                }
                Line::DeleteRange { space, from, to } => {
                    disk.delete_range(self.space(space), from, to)
                }
                Line::Sync => {
                    disk.sync();
                    synced_len = offset;
                }
            }
        }
        disk.crash(); // drops what came after the last marker
        Ok((disk, synced_len))
    }

    /// `name` as the `&'static str` a [`DiskKey`] holds: each distinct
    /// namespace is allocated once and kept for the life of the program
    /// (a protocol has a handful).
    fn space(&mut self, name: String) -> &'static str {
        if let Some(&space) = self.spaces.get(&name) {
            return space;
        }
        let space: &'static str = Box::leak(name.clone().into_boxed_str());
        self.spaces.insert(name, space);
        space
    }

    fn append(&mut self, line: &Line<V>) {
        let result = serde_json::to_writer(&mut self.file, line)
            .map_err(std::io::Error::other)
            .and_then(|()| self.file.write_all(b"\n"));
        if let Err(e) = result {
            panic!("journal write failed: {e}");
        }
    }
}

impl<V: Clone + Serialize + DeserializeOwned> Storage<V> for Journal<V> {
    fn write(&mut self, key: DiskKey, value: V) {
        let space = key.space.to_string();
        self.append(&Line::Write {
            space,
            index: key.index,
            value,
        });
    }

    fn delete(&mut self, key: DiskKey) {
        let space = key.space.to_string();
        self.append(&Line::Delete {
            space,
            index: key.index,
        });
    }

    fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        let space = space.to_string();
        self.append(&Line::DeleteRange { space, from, to });
    }

    fn sync(&mut self) -> Result<(), SyncFailed> {
        self.append(&Line::Sync);
        let result = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data());
        result.map_err(|e| {
            eprintln!("journal fsync failed: {e}");
            SyncFailed
        })
    }
}
