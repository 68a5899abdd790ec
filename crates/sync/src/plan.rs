//! The reconcile plan: a pure function from berth's view and the registry's
//! answers to a list of changes.
//!
//! Architecture invariant: a removal needs an answer. A tag is removed only
//! when the registry listed the repository's tags without it; a repository
//! only when the registry said it does not exist. A failed or missing
//! observation removes nothing, so an unreachable registry or a failed page
//! never empties berth's catalog, and nothing flaps.

use std::collections::{BTreeMap, BTreeSet};

/// What berth's database says: repository → tag → digest.
pub type Known = BTreeMap<String, BTreeMap<String, String>>;

/// What the registry answered about one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoObservation {
    /// The complete tag list, with the digest of each tag where it was
    /// asked for (a HEAD); `None` means not asked this round.
    Tags(BTreeMap<String, TagObservation>),
    /// The registry answered that the repository does not exist.
    Gone,
    /// The tag list could not be read; nothing is concluded.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagObservation {
    /// Listed, digest not asked (steady state: berth trusts its record and
    /// the notifications for tags it already knows).
    Listed,
    /// Listed and HEAD answered with this digest.
    Digest(String),
    /// Listed, but HEAD failed: keep what berth knows.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// A tag is new or points at another digest; the manifest must be fetched
    /// when `digest` is not known yet anywhere in berth.
    UpsertTag {
        repository: String,
        tag: String,
        digest: String,
    },
    RemoveTag {
        repository: String,
        tag: String,
    },
    RemoveRepository {
        repository: String,
    },
}

/// The plan, with what was skipped and why (for status and metrics).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Repositories left untouched because the registry gave no usable answer.
    pub skipped: Vec<(String, String)>,
    /// Tags that need a HEAD before anything can be decided (new tags
    /// observed as `Listed`). The executor asks and plans again.
    pub needs_digest: Vec<(String, String)>,
}

/// Decides the changes. `observed` should hold an entry for every repository
/// of the registry's catalog and every repository berth knows; a repository
/// with no entry is skipped.
pub fn plan(known: &Known, observed: &BTreeMap<String, RepoObservation>) -> Plan {
    let mut out = Plan::default();
    let names: BTreeSet<&String> = known.keys().chain(observed.keys()).collect();
    let empty = BTreeMap::new();
    for repo in names {
        let known_tags = known.get(repo).unwrap_or(&empty);
        match observed.get(repo) {
            None => out.skipped.push((repo.clone(), "not observed".into())),
            Some(RepoObservation::Failed(why)) => out.skipped.push((repo.clone(), why.clone())),
            Some(RepoObservation::Gone) => {
                if known.contains_key(repo) {
                    out.changes.push(Change::RemoveRepository {
                        repository: repo.clone(),
                    });
                }
            }
            Some(RepoObservation::Tags(tags)) => {
                for (tag, seen) in tags {
                    match (seen, known_tags.get(tag)) {
                        (TagObservation::Digest(d), Some(k)) if d == k => {}
                        (TagObservation::Digest(d), _) => out.changes.push(Change::UpsertTag {
                            repository: repo.clone(),
                            tag: tag.clone(),
                            digest: d.clone(),
                        }),
                        (TagObservation::Listed, Some(_)) => {}
                        (TagObservation::Listed, None) => {
                            out.needs_digest.push((repo.clone(), tag.clone()))
                        }
                        (TagObservation::Failed(_), _) => {}
                    }
                }
                for tag in known_tags.keys() {
                    if !tags.contains_key(tag) {
                        out.changes.push(Change::RemoveTag {
                            repository: repo.clone(),
                            tag: tag.clone(),
                        });
                    }
                }
            }
        }
    }
    out.changes.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(entries: &[(&str, &str, &str)]) -> Known {
        let mut k = Known::new();
        for (r, t, d) in entries {
            k.entry((*r).into())
                .or_default()
                .insert((*t).into(), (*d).into());
        }
        k
    }

    fn tags(entries: &[(&str, TagObservation)]) -> RepoObservation {
        RepoObservation::Tags(
            entries
                .iter()
                .map(|(t, o)| ((*t).to_owned(), o.clone()))
                .collect(),
        )
    }

    fn obs(entries: Vec<(&str, RepoObservation)>) -> BTreeMap<String, RepoObservation> {
        entries
            .into_iter()
            .map(|(r, o)| (r.to_owned(), o))
            .collect()
    }

    #[test]
    fn steady_state_changes_nothing_and_asks_nothing() {
        let k = known(&[("a/b", "1", "d1"), ("a/b", "2", "d1")]);
        let o = obs(vec![(
            "a/b",
            tags(&[("1", TagObservation::Listed), ("2", TagObservation::Listed)]),
        )]);
        assert_eq!(plan(&k, &o), Plan::default());
    }

    #[test]
    fn new_tag_needs_a_digest_then_is_upserted() {
        let k = known(&[("a/b", "1", "d1")]);
        let first = plan(
            &k,
            &obs(vec![(
                "a/b",
                tags(&[("1", TagObservation::Listed), ("2", TagObservation::Listed)]),
            )]),
        );
        assert_eq!(first.needs_digest, [("a/b".to_owned(), "2".to_owned())]);
        assert!(first.changes.is_empty());
        let second = plan(
            &k,
            &obs(vec![(
                "a/b",
                tags(&[
                    ("1", TagObservation::Listed),
                    ("2", TagObservation::Digest("d2".into())),
                ]),
            )]),
        );
        assert_eq!(
            second.changes,
            [Change::UpsertTag {
                repository: "a/b".into(),
                tag: "2".into(),
                digest: "d2".into()
            }]
        );
    }

    #[test]
    fn moved_tag_is_upserted() {
        let k = known(&[("a/b", "1", "d1")]);
        let p = plan(
            &k,
            &obs(vec![(
                "a/b",
                tags(&[("1", TagObservation::Digest("d9".into()))]),
            )]),
        );
        assert_eq!(p.changes.len(), 1);
    }

    #[test]
    fn tag_missing_from_a_complete_list_is_removed() {
        let k = known(&[("a/b", "1", "d1"), ("a/b", "2", "d2")]);
        let p = plan(
            &k,
            &obs(vec![("a/b", tags(&[("1", TagObservation::Listed)]))]),
        );
        assert_eq!(
            p.changes,
            [Change::RemoveTag {
                repository: "a/b".into(),
                tag: "2".into()
            }]
        );
    }

    #[test]
    fn gone_repository_is_removed_only_when_the_registry_said_so() {
        let k = known(&[("a/b", "1", "d1"), ("c/d", "1", "d1"), ("e/f", "1", "d1")]);
        let p = plan(
            &k,
            &obs(vec![
                ("a/b", RepoObservation::Gone),
                ("c/d", RepoObservation::Failed("timeout".into())),
            ]),
        );
        assert_eq!(
            p.changes,
            [Change::RemoveRepository {
                repository: "a/b".into()
            }]
        );
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
    }

    #[test]
    fn an_unreachable_registry_removes_nothing() {
        let k = known(&[("a/b", "1", "d1"), ("c/d", "1", "d1")]);
        let failed = obs(vec![
            ("a/b", RepoObservation::Failed("connection refused".into())),
            ("c/d", RepoObservation::Failed("connection refused".into())),
        ]);
        let p = plan(&k, &failed);
        assert!(p.changes.is_empty());
        assert!(plan(&k, &BTreeMap::new()).changes.is_empty());
    }

    #[test]
    fn failed_head_keeps_the_known_digest() {
        let k = known(&[("a/b", "1", "d1")]);
        let p = plan(
            &k,
            &obs(vec![(
                "a/b",
                tags(&[("1", TagObservation::Failed("500".into()))]),
            )]),
        );
        assert!(p.changes.is_empty());
    }

    #[test]
    fn unknown_repository_in_the_registry_is_added() {
        let p = plan(
            &Known::new(),
            &obs(vec![(
                "new/r",
                tags(&[("t", TagObservation::Digest("d".into()))]),
            )]),
        );
        assert_eq!(p.changes.len(), 1);
    }
}
