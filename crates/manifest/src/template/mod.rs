//! Templates of env var values and path header values: parsed and checked when the
//! manifest is read, rendered later against a context supplied by the caller.
//!
//! A template is literal text with Jinja-style `{{ expr }}` holes. An expression names a
//! [`Variable`] by a dotted path (`postgres.user`, or `postgres["user"]`), optionally
//! followed by Python slices (`portal.id[:6]`). Every variable is known when the manifest
//! is read, so a typo fails the install instead of rendering as an empty string later.

mod syntax;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use crate::error::quoted;
pub(crate) use syntax::{parse as parse_raw, print as print_raw, Accessor, RawExpr, RawPart};

/// A value a template may refer to; its `Display` is the dotted path used in templates.
///
/// The `postgres.*` group exists only for apps that request the `postgres` service. Path
/// header templates know only the `auth.*` group, the caller of the request at hand, and
/// env var templates know everything but it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variable {
    /// `postgres://<user>:<password>@<host>:<port>/<database>`.
    PostgresConnectionString,
    /// `<user>:<password>`.
    PostgresUserspec,
    /// The app's role, [`crate::name::AppName::postgres_identifier`].
    PostgresUser,
    PostgresPassword,
    /// `<host>:<port>`.
    PostgresHostspec,
    PostgresHost,
    PostgresPort,
    /// The app's database, named like its role.
    PostgresDatabase,
    /// The id of the Portal's default identity (a hash of its public key).
    PortalId,
    /// The first six characters of the id, as the original used in domains.
    PortalShortId,
    /// The domain under which the Portal is reached, such as `abc123.example.org`.
    PortalDomain,
    /// The name of the Portal's default identity, as its owner set it.
    PortalName,
    /// The host path of the app's own data directory.
    FsAppData,
    /// The id of the terminal or peer making the request; empty for public access.
    AuthClientId,
    /// The name of the terminal or peer making the request; empty for public access.
    AuthClientName,
    /// `terminal`, `peer` or `public`.
    AuthClientType,
}

impl Variable {
    /// Every variable, in the order of this enum.
    pub const ALL: [Variable; 16] = [
        Variable::PostgresConnectionString,
        Variable::PostgresUserspec,
        Variable::PostgresUser,
        Variable::PostgresPassword,
        Variable::PostgresHostspec,
        Variable::PostgresHost,
        Variable::PostgresPort,
        Variable::PostgresDatabase,
        Variable::PortalId,
        Variable::PortalShortId,
        Variable::PortalDomain,
        Variable::PortalName,
        Variable::FsAppData,
        Variable::AuthClientId,
        Variable::AuthClientName,
        Variable::AuthClientType,
    ];

    /// The group and field, as in `("postgres", "user")`.
    pub fn path(self) -> (&'static str, &'static str) {
        match self {
            Variable::PostgresConnectionString => ("postgres", "connection_string"),
            Variable::PostgresUserspec => ("postgres", "userspec"),
            Variable::PostgresUser => ("postgres", "user"),
            Variable::PostgresPassword => ("postgres", "password"),
            Variable::PostgresHostspec => ("postgres", "hostspec"),
            Variable::PostgresHost => ("postgres", "host"),
            Variable::PostgresPort => ("postgres", "port"),
            Variable::PostgresDatabase => ("postgres", "database"),
            Variable::PortalId => ("portal", "id"),
            Variable::PortalShortId => ("portal", "short_id"),
            Variable::PortalDomain => ("portal", "domain"),
            Variable::PortalName => ("portal", "name"),
            Variable::FsAppData => ("fs", "app_data"),
            Variable::AuthClientId => ("auth", "client_id"),
            Variable::AuthClientName => ("auth", "client_name"),
            Variable::AuthClientType => ("auth", "client_type"),
        }
    }

    /// Whether the variable exists only for apps with the `postgres` service.
    pub fn needs_postgres(self) -> bool {
        self.path().0 == "postgres"
    }

    /// Whether the variable describes the request being forwarded (`auth.*`), and so
    /// exists only in path header templates.
    pub fn is_per_request(self) -> bool {
        self.path().0 == "auth"
    }

    fn from_path(group: &str, field: &str) -> Option<Variable> {
        Variable::ALL
            .into_iter()
            .find(|v| v.path() == (group, field))
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (group, field) = self.path();
        write!(f, "{group}.{field}")
    }
}

/// Supplies the values of variables when a template is rendered.
pub trait TemplateContext {
    /// The value of `variable`, or `None` if this context does not know it.
    fn value(&self, variable: Variable) -> Option<&str>;
}

impl TemplateContext for BTreeMap<Variable, String> {
    fn value(&self, variable: Variable) -> Option<&str> {
        self.get(&variable).map(String::as_str)
    }
}

impl<S: BuildHasher> TemplateContext for HashMap<Variable, String, S> {
    fn value(&self, variable: Variable) -> Option<&str> {
        self.get(&variable).map(String::as_str)
    }
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The context had no value: rendering an empty string instead would hand the app a
    /// broken configuration that looks valid.
    #[error("template variable `{0}` has no value")]
    MissingVariable(Variable),
}

/// A checked template: literal text and expressions over known variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr(Expression),
}

/// A variable followed by zero or more slices.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expression {
    variable: Variable,
    slices: Vec<(Option<i64>, Option<i64>)>,
}

/// Where a template appears, which decides the variables it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The app requested the `postgres` service.
    pub(crate) postgres: bool,
    /// The template is a path header value, rendered per request.
    pub(crate) header: bool,
}

impl Template {
    /// Parses `source` and checks every variable against `scope`; all problems are
    /// returned, as lowercase messages.
    pub(crate) fn compile(source: &str, scope: Scope) -> Result<Template, Vec<String>> {
        let raw = parse_raw(source).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let mut parts = Vec::with_capacity(raw.len());
        for part in raw {
            match part {
                RawPart::Literal(text) => parts.push(Part::Literal(text)),
                RawPart::Expr(expr) => match resolve(&expr, scope) {
                    Ok(expr) => parts.push(Part::Expr(expr)),
                    Err(message) => errors.push(message),
                },
            }
        }
        if errors.is_empty() {
            Ok(Template { parts })
        } else {
            Err(errors)
        }
    }

    /// The variables used, in order of appearance, with repeats.
    pub fn variables(&self) -> impl Iterator<Item = Variable> + '_ {
        self.parts.iter().filter_map(|part| match part {
            Part::Expr(expr) => Some(expr.variable),
            Part::Literal(_) => None,
        })
    }

    /// Fills in every expression; fails if the context lacks a variable.
    pub fn render(&self, ctx: &dyn TemplateContext) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expr(expr) => {
                    let value = ctx
                        .value(expr.variable)
                        .ok_or(RenderError::MissingVariable(expr.variable))?;
                    let mut value: Vec<char> = value.chars().collect();
                    for (start, stop) in &expr.slices {
                        value = python_slice(&value, *start, *stop);
                    }
                    out.extend(value);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    /// The canonical source: `{{ group.field[a:b] }}` with single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw: Vec<RawPart> = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => RawPart::Literal(text.clone()),
                Part::Expr(expr) => {
                    let (group, field) = expr.variable.path();
                    let mut accessors = vec![Accessor::Attr(field.to_owned())];
                    accessors.extend(expr.slices.iter().map(|(a, b)| Accessor::Slice(*a, *b)));
                    RawPart::Expr(RawExpr {
                        root: group.to_owned(),
                        accessors,
                    })
                }
            })
            .collect();
        f.write_str(&print_raw(&raw))
    }
}

fn resolve(expr: &RawExpr, scope: Scope) -> Result<Expression, String> {
    let mut names = vec![expr.root.as_str()];
    let mut slices = Vec::new();
    for accessor in &expr.accessors {
        match accessor {
            Accessor::Attr(name) | Accessor::Key(name) if slices.is_empty() => names.push(name),
            Accessor::Attr(name) | Accessor::Key(name) => {
                let name = quoted(name);
                return Err(format!("cannot look up {name} in a slice of a string"));
            }
            Accessor::Slice(start, stop) => slices.push((*start, *stop)),
        }
    }
    let variable = match names.as_slice() {
        [group, field] => Variable::from_path(group, field),
        _ => None,
    };
    let Some(variable) = variable else {
        let path = quoted(&names.join("."));
        return Err(format!("unknown template variable {path}"));
    };
    // A path header is rendered by the gateway per request, which knows the caller and
    // nothing else; refusing other variables here is what keeps a parsed manifest from
    // failing at request time.
    if scope.header && !variable.is_per_request() {
        return Err(format!(
            "template variable `{variable}` is not available in path headers, only \
             `auth.client_id`, `auth.client_name` and `auth.client_type` are"
        ));
    }
    if variable.needs_postgres() && !scope.postgres {
        return Err(format!(
            "template variable `{variable}` needs the `postgres` service"
        ));
    }
    if variable.is_per_request() && !scope.header {
        return Err(format!(
            "template variable `{variable}` is only available in path headers"
        ));
    }
    Ok(Expression { variable, slices })
}

/// `value[start:stop]` as Python slices a string: negative bounds count from the end, and
/// bounds out of range are clamped.
fn python_slice(value: &[char], start: Option<i64>, stop: Option<i64>) -> Vec<char> {
    let len = i64::try_from(value.len()).unwrap_or(i64::MAX);
    let clamp = |bound: i64| {
        let bound = if bound < 0 {
            bound.saturating_add(len)
        } else {
            bound
        };
        usize::try_from(bound.clamp(0, len)).unwrap_or(0)
    };
    let start = clamp(start.unwrap_or(0));
    let stop = clamp(stop.unwrap_or(len));
    value
        .get(start..stop)
        .map(<[char]>::to_vec)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
