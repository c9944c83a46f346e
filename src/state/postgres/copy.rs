//! Whole tables in and out of PostgreSQL, for `gazette state copy` ([`crate::state::copy`]):
//! read through a portal in one snapshot, written with binary `COPY` a batch at a time.

use anyhow::{Result, bail};
use postgres::Row;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Conn, Sql, WRITE_LOCK};
use crate::state::copy::{Table, Value};

/// Rows written by one `COPY`.
const BATCH: usize = 5_000;

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // SQLite keeps booleans as integers, and a whole number in a REAL column may come back
        // as an integer: the column's type decides.
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
            (Value::Int(n), &Type::FLOAT8) => (*n as f64).to_sql(ty, out),
            (Value::Int(n), _) => n.to_sql(ty, out),
            (Value::Real(f), _) => f.to_sql(ty, out),
            (Value::Text(t), _) => t.to_sql(ty, out),
            (Value::Blob(b), _) => b.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => i64::from(*b).to_sql(ty, out),
            (Value::Bool(b), _) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value(row: &Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |n| Value::Int(n.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        Type::TEXT => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, Value::Bool),
        _ => bail!("column {} is of type {ty}, which gazette does not copy", row.columns()[i].name()),
    })
}

impl Conn {
    pub fn count_rows(&self, table: &Table) -> Result<u64> {
        let n: i64 = self.one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn export(&mut self, tables: &[Table], mut each: impl FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()> {
        let client = self.client.get_mut();
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        for table in tables {
            let portal = tx.bind(&format!("SELECT {} FROM {}", table.columns.join(", "), table.name), &[])?;
            loop {
                let rows = tx.query_portal(&portal, 1_000)?;
                for row in &rows {
                    each(table, (0..table.columns.len()).map(|i| value(row, i)).collect::<Result<Vec<_>>>()?)?;
                }
                if rows.len() < 1_000 {
                    break;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn import(
        &mut self,
        tables: &[Table],
        fill: impl FnOnce(&mut dyn FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        let client = self.client.get_mut();
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        {
            let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
            let mut batch_of: Option<&'static str> = None;
            let flush = |tx: &mut postgres::Transaction, name: &str, rows: &mut Vec<Vec<Value>>| -> Result<()> {
                let Some(table) = tables.iter().find(|t| t.name == name) else { return Ok(()) };
                let columns = table.columns.join(", ");
                let types: Vec<Type> = tx
                    .prepare(&format!("SELECT {columns} FROM {name} LIMIT 0"))?
                    .columns()
                    .iter()
                    .map(|c| c.type_().clone())
                    .collect();
                let sink = tx.copy_in(&format!("COPY {name} ({columns}) FROM STDIN BINARY"))?;
                let mut writer = BinaryCopyInWriter::new(sink, &types);
                for row in rows.drain(..) {
                    let values: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                    writer.write(&values)?;
                }
                writer.finish()?;
                Ok(())
            };
            let mut load = |table: &Table, row: Vec<Value>| -> Result<()> {
                if batch_of.is_some_and(|name| name != table.name) || batch.len() >= BATCH {
                    flush(&mut tx, batch_of.unwrap_or_default(), &mut batch)?;
                }
                batch_of = Some(table.name);
                batch.push(row);
                Ok(())
            };
            fill(&mut load)?;
            if let Some(name) = batch_of {
                flush(&mut tx, name, &mut batch)?;
            }
        }
        // The ids copied were given by the other database: new rows continue after them.
        for table in tables {
            if let Some(id) = table.identity {
                let name = table.name;
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{name}', '{id}'), COALESCE(MAX({id}), 0) + 1, false) FROM {name}"
                    ),
                    &[],
                )?;
            }
        }
        tx.commit()?;
        // Statistics for the planner at once, not when autovacuum gets to the new rows. The
        // copy is done either way.
        let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
        if let Err(e) = self.client.get_mut().batch_execute(&format!("ANALYZE {}", names.join(", "))) {
            tracing::warn!(error = %e, "cannot analyse the copied tables");
        }
        Ok(())
    }
}
