//! `data_dirs`: the directories an app gets bind-mounted, either its own (under its data
//! directory on the host) or one of the owner's shared directories.
//!
//! The original only stripped slashes from these paths, so `../..` escaped the app's
//! directory; here a path is refused unless it is absolute and normalised.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use crate::error::{quoted, Diagnostics, InvalidValue, Pointer};
use crate::json;

/// The longest mount path, in bytes.
pub const MAX_DATA_DIR_PATH_LEN: usize = 255;

/// The largest uid or gid: the ids a default user namespace maps, so that an owner set
/// here exists inside any container.
pub const MAX_ID: u32 = 65535;

/// An absolute, normalised mount path inside the container.
///
/// Refused: relative paths, `/`, `.` and `..` segments, empty segments (`//`, trailing
/// `/`), control characters, `:` (Docker's `-v` separator) and the kernel's virtual file
/// systems `/proc`, `/sys`, `/dev` and anything under them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataDirPath(String);

impl DataDirPath {
    pub fn new(path: &str) -> Result<DataDirPath, InvalidValue> {
        let fail = |why: &str| {
            let path = quoted(path);
            Err(InvalidValue::new(format!("data dir path {path} {why}")))
        };
        if path.len() > MAX_DATA_DIR_PATH_LEN {
            return fail("is longer than 255 bytes");
        }
        if path.chars().any(char::is_control) {
            return fail("contains a control character");
        }
        let Some(relative) = path.strip_prefix('/') else {
            return fail("must be absolute");
        };
        if relative.is_empty() {
            return fail("must not be the root directory");
        }
        if path.contains(':') {
            return fail("must not contain `:`");
        }
        for segment in relative.split('/') {
            match segment {
                "" => return fail("must not contain empty segments or end with `/`"),
                "." | ".." => return fail("must not contain `.` or `..` segments"),
                _ => {}
            }
        }
        let first = relative.split('/').next().unwrap_or("");
        if ["proc", "sys", "dev"].contains(&first) {
            return fail("must not be in `/proc`, `/sys` or `/dev`");
        }
        Ok(DataDirPath(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path without its leading `/`, to join under the app's host directory
    /// (`<data-dir>/apps/<app>/<relative>`); never empty, never escapes that directory.
    pub fn relative(&self) -> &str {
        self.0.strip_prefix('/').unwrap_or(&self.0)
    }
}

impl fmt::Display for DataDirPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DataDirPath {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataDirPath::new(s)
    }
}

/// One of the owner's directories that apps may share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SharedDir {
    Documents,
    Media,
    Music,
}

impl SharedDir {
    pub fn as_str(self) -> &'static str {
        match self {
            SharedDir::Documents => "documents",
            SharedDir::Media => "media",
            SharedDir::Music => "music",
        }
    }

    fn parse(s: &str) -> Option<SharedDir> {
        [SharedDir::Documents, SharedDir::Media, SharedDir::Music]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A directory mounted into the app's container at [`DataDir::path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    path: DataDirPath,
    source: DataDirSource,
}

/// Where the mounted directory lives on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDirSource {
    /// The app's own directory `<data-dir>/apps/<app>/<relative path>`, read-write,
    /// `chown`ed to `uid`/`gid` where given so that a non-root app can write to it.
    App { uid: Option<u32>, gid: Option<u32> },
    /// One of the owner's shared directories. `read_only` is a berth extension; shared
    /// directories are never `chown`ed, since other apps use them too.
    Shared { dir: SharedDir, read_only: bool },
}

impl DataDir {
    pub fn path(&self) -> &DataDirPath {
        &self.path
    }

    pub fn source(&self) -> &DataDirSource {
        &self.source
    }

    /// The canonical stored form: always an object, optional members only when set.
    pub(crate) fn to_stored(&self) -> Value {
        let mut out = Map::new();
        out.insert("path".to_owned(), json!(self.path.as_str()));
        match &self.source {
            DataDirSource::App { uid, gid } => {
                if let Some(uid) = uid {
                    out.insert("uid".to_owned(), json!(uid));
                }
                if let Some(gid) = gid {
                    out.insert("gid".to_owned(), json!(gid));
                }
            }
            DataDirSource::Shared { dir, read_only } => {
                out.insert("shared_dir".to_owned(), json!(dir.as_str()));
                out.insert("read_only".to_owned(), json!(read_only));
            }
        }
        Value::Object(out)
    }
}

const KEYS: [&str; 5] = ["path", "uid", "gid", "shared_dir", "read_only"];

/// Reads `data_dirs`, reporting every bad item and duplicate path.
pub(crate) fn read(value: Option<&Value>, diag: &mut Diagnostics) -> Vec<DataDir> {
    let pointer = Pointer::root().key("data_dirs");
    let Some(items) = value.and_then(|v| json::list(v, &pointer, diag)) else {
        return Vec::new();
    };
    let mut out: Vec<DataDir> = Vec::new();
    // A set, not a scan of `out`, so that a huge list costs n log n, not n².
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let pointer = pointer.index(i);
        let dir = match item {
            Value::Null => {
                diag.warn(&pointer, "null item ignored");
                continue;
            }
            Value::String(path) => read_path(path, &pointer, diag).map(|path| DataDir {
                path,
                source: DataDirSource::App {
                    uid: None,
                    gid: None,
                },
            }),
            Value::Object(object) => read_object(object, &pointer, diag),
            other => {
                let kind = json::kind(other);
                diag.error(
                    &pointer,
                    format!("expected a path or an object, found {kind}"),
                );
                None
            }
        };
        let Some(dir) = dir else { continue };
        if !seen.insert(dir.path.clone()) {
            diag.error(
                &pointer,
                format!("data dir path `{}` is listed twice", dir.path),
            );
            continue;
        }
        out.push(dir);
    }
    out
}

fn read_path(path: &str, pointer: &Pointer, diag: &mut Diagnostics) -> Option<DataDirPath> {
    DataDirPath::new(path)
        .map_err(|e| diag.error(pointer, e.to_string()))
        .ok()
}

fn read_object(
    object: &Map<String, Value>,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Option<DataDir> {
    json::warn_unknown_keys(object, pointer, &KEYS, diag);
    let errors_before = diag.error_count();
    let path_pointer = pointer.key("path");
    let path = match json::get(object, "path") {
        Some(v) => {
            json::string(v, &path_pointer, diag).and_then(|p| read_path(p, &path_pointer, diag))
        }
        None => {
            diag.error(pointer, "missing `path`");
            None
        }
    };
    let id = |key: &str, diag: &mut Diagnostics| {
        let v = json::get(object, key)?;
        let id = json::integer_in(v, &pointer.key(key), (0, MAX_ID.into()), key, diag)?;
        u32::try_from(id).ok()
    };
    let uid = id("uid", diag);
    let gid = id("gid", diag);
    let read_only = json::get(object, "read_only")
        .and_then(|v| json::boolean(v, &pointer.key("read_only"), diag));
    let shared = json::get(object, "shared_dir").and_then(|v| {
        let pointer = pointer.key("shared_dir");
        let name = json::string(v, &pointer, diag)?;
        let dir = SharedDir::parse(name);
        if dir.is_none() {
            diag.error(
                &pointer,
                format!("unknown shared dir `{name}`, expected `documents`, `media` or `music`"),
            );
        }
        dir
    });
    let source = match shared {
        Some(dir) => {
            for key in ["uid", "gid"] {
                if json::get(object, key).is_some() {
                    diag.warn(
                        &pointer.key(key),
                        format!("`{key}` ignored: shared dirs are never `chown`ed"),
                    );
                }
            }
            DataDirSource::Shared {
                dir,
                read_only: read_only.unwrap_or(false),
            }
        }
        None => {
            if read_only == Some(true) {
                diag.error(
                    &pointer.key("read_only"),
                    "`read_only` is only allowed for shared dirs",
                );
            }
            DataDirSource::App { uid, gid }
        }
    };
    if diag.error_count() > errors_before {
        return None;
    }
    Some(DataDir {
        path: path?,
        source,
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(data_dirs: &str, expect: Expect) {
        check_field("data_dirs", &format!(r#""data_dirs": {data_dirs}"#), expect);
    }

    #[test]
    fn strings_and_objects() {
        check(
            r#"["/data", {"path": "/config", "uid": 1000, "gid": 0}, {"path": "/media", "shared_dir": "media"}, {"path": "/docs", "shared_dir": "documents", "read_only": true}, null, {"path": "/m", "shared_dir": "music", "read_only": null}]"#,
            expect![[r#"
            [{"path":"/data"},{"gid":0,"path":"/config","uid":1000},{"path":"/media","read_only":false,"shared_dir":"media"},{"path":"/docs","read_only":true,"shared_dir":"documents"},{"path":"/m","read_only":false,"shared_dir":"music"}]
            warning /data_dirs/4: null item ignored"#]],
        );
        check("null", expect!["[]"]);
        check(
            r#"[{"path": "/a/b c/.d/..e", "read_only": false}]"#,
            expect![[r#"[{"path":"/a/b c/.d/..e"}]"#]],
        );
    }

    #[test]
    fn bad_paths() {
        check(
            r#"["data", "/", "/a/../b", "/..", "/a/./b", "/a//b", "/a/", "/proc", "/proc/x", "/sys/fs", "/dev", "/a\u0000b", "/a\nb", "/a:ro", ""]"#,
            expect![[r#"
            error /data_dirs/0: data dir path `data` must be absolute
            error /data_dirs/1: data dir path `/` must not be the root directory
            error /data_dirs/2: data dir path `/a/../b` must not contain `.` or `..` segments
            error /data_dirs/3: data dir path `/..` must not contain `.` or `..` segments
            error /data_dirs/4: data dir path `/a/./b` must not contain `.` or `..` segments
            error /data_dirs/5: data dir path `/a//b` must not contain empty segments or end with `/`
            error /data_dirs/6: data dir path `/a/` must not contain empty segments or end with `/`
            error /data_dirs/7: data dir path `/proc` must not be in `/proc`, `/sys` or `/dev`
            error /data_dirs/8: data dir path `/proc/x` must not be in `/proc`, `/sys` or `/dev`
            error /data_dirs/9: data dir path `/sys/fs` must not be in `/proc`, `/sys` or `/dev`
            error /data_dirs/10: data dir path `/dev` must not be in `/proc`, `/sys` or `/dev`
            error /data_dirs/11: data dir path `/a\0b` contains a control character
            error /data_dirs/12: data dir path `/a\nb` contains a control character
            error /data_dirs/13: data dir path `/a:ro` must not contain `:`
            error /data_dirs/14: data dir path `` must be absolute"#]],
        );
        check(&format!(r#"["/{}"]"#, "a".repeat(255)), expect!["error /data_dirs/0: data dir path `/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` is longer than 255 bytes"]);
        check(
            r#"["/process", "/devices", "/system"]"#,
            expect![[r#"[{"path":"/process"},{"path":"/devices"},{"path":"/system"}]"#]],
        );
    }

    #[test]
    fn bad_objects() {
        check(
            r#"[{"uid": 1}, {"path": 5}, {"path": "/a", "uid": -1, "gid": 65536}, {"path": "/b", "shared_dir": "videos"}, {"path": "/c", "read_only": true}, {"path": "/d", "shared_dir": "media", "read_only": "yes"}, 7]"#,
            expect![[r#"
            error /data_dirs/0: missing `path`
            error /data_dirs/1/path: expected a string, found a number
            error /data_dirs/2/uid: uid `-1` is not a whole number from 0 to 65535
            error /data_dirs/2/gid: gid `65536` is not a whole number from 0 to 65535
            error /data_dirs/3/shared_dir: unknown shared dir `videos`, expected `documents`, `media` or `music`
            error /data_dirs/4/read_only: `read_only` is only allowed for shared dirs
            error /data_dirs/5/read_only: expected a boolean, found a string
            error /data_dirs/6: expected a path or an object, found a number"#]],
        );
        check(
            r#"[{"path": "/e", "mode": "rw"}]"#,
            expect![[r#"
            [{"path":"/e"}]
            warning /data_dirs/0/mode: unknown key `mode` ignored"#]],
        );
        check(
            r#"{"path": "/a"}"#,
            expect!["error /data_dirs: expected a list, found an object"],
        );
    }

    #[test]
    fn shared_dirs_ignore_owner() {
        check(
            r#"[{"path": "/music", "shared_dir": "music", "uid": 1000, "gid": 1000}]"#,
            expect![[r#"
            [{"path":"/music","read_only":false,"shared_dir":"music"}]
            warning /data_dirs/0/uid: `uid` ignored: shared dirs are never `chown`ed
            warning /data_dirs/0/gid: `gid` ignored: shared dirs are never `chown`ed"#]],
        );
    }

    #[test]
    fn duplicates() {
        check(
            r#"["/data", {"path": "/data", "uid": 1}, {"path": "/data", "shared_dir": "media"}]"#,
            expect![[r#"
            error /data_dirs/1: data dir path `/data` is listed twice
            error /data_dirs/2: data dir path `/data` is listed twice"#]],
        );
    }

    #[test]
    fn relative_path() {
        let p = super::DataDirPath::new("/var/lib/app").unwrap();
        assert_eq!(p.relative(), "var/lib/app");
        assert_eq!(p.as_str(), "/var/lib/app");
    }
}
