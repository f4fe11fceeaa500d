//! The two databases the state store runs on, behind one small SQL seam: SQLite (the
//! default, one gateway) and PostgreSQL (`--state postgres://…`, several replicas).
//!
//! Every statement of the store is written once, with SQLite's numbered placeholders
//! (`?1`, `?2`); on PostgreSQL they are rewritten to `$1`, `$2` outside string literals.
//! Statements stick to the common dialect (`ON CONFLICT … DO NOTHING/UPDATE`, `COALESCE`,
//! `CAST`, `LIMIT`); integers are 64-bit on both (PostgreSQL columns are BIGINT). Values
//! cross the seam as `P` (parameters) and `Row` (results), so the store's logic — and its
//! test suite — is the same on both.

use std::cell::RefCell;

use crate::error::{Error, Result};

/// A parameter. Nulls carry their type: PostgreSQL checks it against the column's.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
    I(Option<i64>),
    F(f64),
    T(Option<&'a str>),
    B(&'a [u8]),
}

impl From<f64> for P<'_> {
    fn from(x: f64) -> Self {
        P::F(x)
    }
}

impl<'a> From<&'a str> for P<'a> {
    fn from(s: &'a str) -> Self {
        P::T(Some(s))
    }
}
impl<'a> From<&'a String> for P<'a> {
    fn from(s: &'a String) -> Self {
        P::T(Some(s.as_str()))
    }
}
impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(s: Option<&'a str>) -> Self {
        P::T(s)
    }
}
impl From<i64> for P<'_> {
    fn from(n: i64) -> Self {
        P::I(Some(n))
    }
}
impl From<Option<i64>> for P<'_> {
    fn from(n: Option<i64>) -> Self {
        P::I(n)
    }
}

/// `ps![a, b, c]`: a parameter list.
macro_rules! ps {
    ($($x:expr),* $(,)?) => { &[$($crate::store::db::P::from($x)),*][..] };
}
pub(crate) use ps;

/// One result value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    I(i64),
    F(f64),
    T(String),
    B(Vec<u8>),
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<V>);

impl Row {
    fn at(&self, i: usize) -> Result<&V> {
        self.0
            .get(i)
            .ok_or_else(|| Error::State(format!("state database: no column {i} in a row")))
    }
    pub fn i(&self, i: usize) -> Result<i64> {
        self.oi(i)?
            .ok_or_else(|| Error::State(format!("state database: column {i} is NULL")))
    }
    pub fn oi(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::I(n) => Ok(Some(*n)),
            other => Err(Error::State(format!(
                "state database: column {i} is {other:?}, expected an integer"
            ))),
        }
    }
    /// A real (integers widen; SQLite may hand back a whole-valued REAL as an integer).
    pub fn f(&self, i: usize) -> Result<f64> {
        match self.at(i)? {
            V::F(x) => Ok(*x),
            V::I(n) => Ok(*n as f64),
            other => Err(Error::State(format!(
                "state database: column {i} is {other:?}, expected a number"
            ))),
        }
    }
    pub fn t(&self, i: usize) -> Result<String> {
        self.ot(i)?
            .ok_or_else(|| Error::State(format!("state database: column {i} is NULL")))
    }
    pub fn ot(&self, i: usize) -> Result<Option<String>> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::T(s) => Ok(Some(s.clone())),
            other => Err(Error::State(format!(
                "state database: column {i} is {other:?}, expected text"
            ))),
        }
    }
    pub fn b(&self, i: usize) -> Result<Vec<u8>> {
        match self.at(i)? {
            V::B(b) => Ok(b.clone()),
            other => Err(Error::State(format!(
                "state database: column {i} is {other:?}, expected bytes"
            ))),
        }
    }
}

/// Which database a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection or an open transaction, on either database.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Run one statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64>;
    /// Run one query; every row.
    fn rows(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>>;
    /// The first row of a query, if any.
    fn row(&mut self, sql: &str, params: &[P]) -> Result<Option<Row>> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }
    /// Run one `INSERT` and return the id it created (`RETURNING id` on both).
    fn insert_id(&mut self, sql: &str, params: &[P]) -> Result<i64> {
        let sql = format!("{sql} RETURNING id");
        self.row(&sql, params)?
            .ok_or_else(|| Error::State("state database: INSERT returned no id".into()))?
            .i(0)
    }
}

/// `?N` → `$N` outside quoted text (PostgreSQL's placeholders).
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        out.push(if c == '?' && quote.is_none() { '$' } else { c });
    }
    out
}

// ---- SQLite ----

pub struct Lite<'a>(pub &'a rusqlite::Connection);

fn lite_params<'a>(params: &'a [P<'a>]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    params
        .iter()
        .map(|p| match p {
            P::I(Some(n)) => Value::Integer(*n),
            P::F(x) => Value::Real(*x),
            P::T(Some(s)) => Value::Text(s.to_string()),
            P::B(b) => Value::Blob(b.to_vec()),
            P::I(None) | P::T(None) => Value::Null,
        })
        .collect()
}

impl Sql for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let n = self.0.execute(sql, rusqlite::params_from_iter(lite_params(params)))?;
        Ok(n as u64)
    }
    fn rows(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(lite_params(params)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => V::Null,
                    ValueRef::Integer(x) => V::I(x),
                    ValueRef::Real(x) => V::F(x),
                    ValueRef::Text(t) => V::T(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => V::B(b.to_vec()),
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}

// ---- PostgreSQL ----

pub struct Pg<'a, C: postgres::GenericClient>(pub &'a mut C);

type PgParam<'a> = Box<dyn postgres::types::ToSql + Sync + 'a>;

fn pg_params<'a>(params: &'a [P<'a>]) -> Vec<PgParam<'a>> {
    params
        .iter()
        .map(|p| -> PgParam<'a> {
            match *p {
                P::I(n) => Box::new(n),
                P::F(x) => Box::new(x),
                P::T(s) => Box::new(s),
                P::B(b) => Box::new(b),
            }
        })
        .collect()
}

fn pg_error(sql: &str, e: postgres::Error) -> Error {
    let first = sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    match e.as_db_error() {
        Some(db) => Error::State(format!("postgres ({first} …): {}", db.message())),
        None => Error::State(format!("postgres ({first} …): {e}")),
    }
}

impl<C: postgres::GenericClient> Sql for Pg<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        self.0.execute(&to_postgres(sql), &refs).map_err(|e| pg_error(sql, e))
    }
    fn rows(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        use postgres::types::Type;
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(&to_postgres(sql), &refs).map_err(|e| pg_error(sql, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut vals = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let get = |e: postgres::Error| pg_error(sql, e);
                let v = match *col.type_() {
                    Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(get)?.map(V::I),
                    Type::INT4 => r.try_get::<_, Option<i32>>(i).map_err(get)?.map(|x| V::I(x.into())),
                    Type::INT2 => r.try_get::<_, Option<i16>>(i).map_err(get)?.map(|x| V::I(x.into())),
                    Type::BOOL => r.try_get::<_, Option<bool>>(i).map_err(get)?.map(|x| V::I(x.into())),
                    Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map_err(get)?.map(V::F),
                    Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i).map_err(get)?.map(V::B),
                    Type::VOID => None,
                    _ => r.try_get::<_, Option<String>>(i).map_err(get)?.map(V::T),
                };
                vals.push(v.unwrap_or(V::Null));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}

/// The store's connection.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    /// Behind a `RefCell`: the PostgreSQL client needs `&mut` even to read, the store's
    /// readers take `&self` (the store itself is behind the gateway's mutex).
    Postgres(Box<RefCell<postgres::Client>>),
}

impl Conn {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `f` outside a transaction (reads).
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match self {
            Conn::Sqlite(c) => f(&mut Lite(c)),
            Conn::Postgres(c) => {
                let mut client = c
                    .try_borrow_mut()
                    .map_err(|_| Error::State("state database: connection already in use".into()))?;
                f(&mut Pg(&mut *client))
            }
        }
    }

    /// Run `f` in one transaction: committed (and on disk) when `f` succeeds, rolled back
    /// when it fails.
    pub fn tx<T>(&mut self, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match self {
            Conn::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&mut Lite(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Conn::Postgres(c) => {
                let client = c.get_mut();
                let mut tx = client.transaction().map_err(|e| pg_error("BEGIN", e))?;
                let out = f(&mut Pg(&mut tx))?;
                tx.commit().map_err(|e| pg_error("COMMIT", e))?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        /// Any text: no panic, the same length, and outside quotes no `?` is left.
        #[test]
        fn rewriting_never_panics_and_keeps_the_text(sql in "[ -~]{0,80}") {
            let out = to_postgres(&sql);
            prop_assert_eq!(out.len(), sql.len());
            if !sql.contains(['\'', '"']) {
                prop_assert!(!out.contains('?'));
                prop_assert_eq!(out.replace('$', "?"), sql.replace('$', "?"));
            }
        }

        /// State URLs: anything parses or is refused with a message, never a panic; a
        /// password never survives redaction.
        #[test]
        fn state_urls_never_panic_and_hide_passwords(user in "[a-z]{1,8}", pass in "[a-zA-Z0-9]{1,12}", junk in "\\PC{0,40}") {
            let _ = crate::store::StateUrl::parse(&junk);
            let _ = crate::store::redact_url(&junk);
            let url = format!("postgres://{user}:{pass}@db:5432/x");
            let shown = crate::store::StateUrl::parse(&url).unwrap().redacted();
            let secret = format!(":{pass}@");
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"d?\" = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"d?\" = $12"
        );
    }
}
