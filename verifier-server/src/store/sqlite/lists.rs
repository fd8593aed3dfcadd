//! [`ListsTx`] on SQLite: the lists' sequence numbers and status steps (one writer at a time: `BEGIN IMMEDIATE`).

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use shared::status::Status;

use crate::store::{
    i64_of, status_of, u32_of, u64_of, ListState, ListsTx, StatusState, StatusStep, StoreError,
};

impl ListsTx for SqliteTx<'_> {
    fn trust_state(&mut self) -> Result<Option<ListState>, StoreError> {
        let row: Option<(i64, i64)> = self
            .row(
                "SELECT seq, issued_at FROM list_state WHERE list = 'trust'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(seq, issued_at)| {
            Ok(ListState {
                seq: u64_of(seq, "trust list seq")?,
                issued_at,
            })
        })
        .transpose()
    }

    fn set_trust_state(&mut self, s: ListState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at) VALUES ('trust', ?1, ?2)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at",
            params![i64_of(s.seq, "trust list seq")?, s.issued_at],
        )?;
        Ok(())
    }

    fn status_state(&mut self) -> Result<Option<StatusState>, StoreError> {
        let row: Option<(i64, i64, i64)> = self
            .row(
                "SELECT seq, issued_at, next_index FROM list_state WHERE list = 'status'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(seq, issued_at, next)| {
            Ok(StatusState {
                list: ListState {
                    seq: u64_of(seq, "status list seq")?,
                    issued_at,
                },
                next_index: u32_of(next, "next status index")?,
            })
        })
        .transpose()
    }

    fn set_status_state(&mut self, s: StatusState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at, next_index) VALUES ('status', ?1, ?2, ?3)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at,
                                              next_index = excluded.next_index",
            params![
                i64_of(s.list.seq, "status list seq")?,
                s.list.issued_at,
                s.next_index
            ],
        )?;
        Ok(())
    }

    fn insert_status_step(&mut self, step: &StatusStep) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO status_steps (seq, issued_at, delta) VALUES (?1, ?2, ?3)",
            params![
                i64_of(step.seq, "status step seq")?,
                step.issued_at,
                step.delta
            ],
        )?;
        Ok(())
    }

    fn status_steps_after(&mut self, seq: u64) -> Result<Vec<StatusStep>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, issued_at, delta FROM status_steps WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([i64_of(seq, "status seq")?], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, issued_at, delta)| {
                Ok(StatusStep {
                    seq: u64_of(seq, "status step seq")?,
                    issued_at,
                    delta,
                })
            })
            .collect()
    }

    fn oldest_delta_base(&mut self) -> Result<Option<u64>, StoreError> {
        let min: Option<i64> = self.row("SELECT MIN(seq) FROM status_steps", [], |r| r.get(0))?;
        min.map(|m| u64_of(m - 1, "status step seq")).transpose()
    }

    fn non_valid(&mut self) -> Result<Vec<(u32, Status)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status_index, status FROM certificate_versions WHERE status != 0
             UNION ALL
             SELECT status_index, status FROM delegated_copies WHERE status != 0
             ORDER BY 1",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(i, s)| Ok((u32_of(i, "status index")?, status_of(s)?)))
            .collect()
    }
}
