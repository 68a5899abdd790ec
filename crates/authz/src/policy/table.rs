//! The policy rendered as Markdown tables, from [`decide`] itself, for ARCHITECTURE.md.
//!
//! The table is generated rather than written so that the documentation is
//! the behaviour; a test in the workspace compares ARCHITECTURE.md with it.

use std::fmt::Write as _;

use super::{
    Action, NamespaceFacts, NamespaceKind, PolicySettings, RepositoryFacts, Subject, TeamRole,
    Visibility, decide,
};

/// The rows of the table: a label, the subject and its role in the namespace.
const ROWS: [(&str, Subject, Option<TeamRole>); 7] = [
    ("anonymous", Subject::Anonymous, None),
    ("user, not a member", USER, None),
    ("viewer", USER, Some(TeamRole::Viewer)),
    ("contributor", USER, Some(TeamRole::Contributor)),
    ("owner", USER, Some(TeamRole::Owner)),
    (
        "admin",
        Subject::User {
            admin: true,
            bot: false,
        },
        None,
    ),
    ("service user", Subject::Service, None),
];

const USER: Subject = Subject::User {
    admin: false,
    bot: false,
};

/// Renders the full subject × namespace kind × visibility × action table.
///
/// Deletion is shown as enabled; the notes say what changes when it is not.
pub fn policy_table() -> String {
    let settings = PolicySettings {
        delete_enabled: true,
    };
    let mut out = String::new();
    out.push_str("| subject | namespace | private | protected | public |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (label, subject, role) in ROWS {
        for kind in NamespaceKind::ALL {
            let _ = write!(out, "| {label} | {kind} |");
            for visibility in Visibility::ALL {
                let facts = RepositoryFacts {
                    namespace: Some(NamespaceFacts {
                        kind: *kind,
                        visibility: *visibility,
                        caller_role: role,
                    }),
                };
                let _ = write!(out, " {} |", allowed(&subject, &facts, &settings));
            }
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str("When the namespace does not exist:\n\n");
    out.push_str("| subject | allowed |\n");
    out.push_str("|---|---|\n");
    for (label, subject, _) in ROWS {
        let facts = RepositoryFacts { namespace: None };
        let _ = writeln!(
            out,
            "| {label} | {} |",
            allowed(&subject, &facts, &settings)
        );
    }
    out.push('\n');
    out.push_str(concat!(
        "- With deletion disabled (`delete_enabled = false`) every delete is denied, ",
        "admins and the service user included.\n",
        "- Bots are decided like users with the same role; an admin flag on a bot is ignored.\n",
        "- Team roles do not apply to the global namespace.\n",
        "- `registry:catalog:*` is granted to admins and the service user only.\n",
    ));
    out
}

/// The allowed actions as `pull, push`, or `-` for none.
fn allowed(subject: &Subject, facts: &RepositoryFacts, settings: &PolicySettings) -> String {
    let actions: Vec<&str> = Action::ALL
        .iter()
        .filter(|action| decide(subject, facts, **action, settings).allowed())
        .map(|action| action.as_str())
        .collect();
    match actions.is_empty() {
        true => "-".to_owned(),
        false => actions.join(", "),
    }
}
