//! Whole tables in and out of a SQLite file, for `gazette state copy`
//! ([`crate::state::copy`]).

use anyhow::Result;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::Conn;
use crate::state::copy::{Table, Value};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

fn value(raw: ValueRef) -> Result<Value> {
    Ok(match raw {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec())?),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl Conn {
    pub fn count_rows(&self, table: &Table) -> Result<u64> {
        let n: i64 = self.conn.query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn export(&mut self, tables: &[Table], mut each: impl FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()> {
        // Deferred: a read that sees the file as of its first statement, and writes nobody out.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        for table in tables {
            let mut stmt = tx.prepare(&format!("SELECT {} FROM {}", table.columns.join(", "), table.name))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let values = (0..table.columns.len()).map(|i| value(row.get_ref(i)?)).collect::<Result<Vec<_>>>()?;
                each(table, values)?;
            }
        }
        Ok(())
    }

    pub fn import(
        &mut self,
        _tables: &[Table],
        fill: impl FnOnce(&mut dyn FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut load = |table: &Table, row: Vec<Value>| -> Result<()> {
                let marks = vec!["?"; table.columns.len()].join(", ");
                let sql = format!("INSERT INTO {} ({}) VALUES ({marks})", table.name, table.columns.join(", "));
                tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(row.iter()))?;
                Ok(())
            };
            fill(&mut load)?;
        }
        tx.commit()?;
        Ok(())
    }
}
