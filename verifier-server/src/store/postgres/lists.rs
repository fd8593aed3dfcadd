//! [`ListsTx`] on PostgreSQL: the lists' sequence numbers (their rows read
//! `FOR UPDATE`: concurrent transactions of two instances take turns) and
//! the status list's steps.

use shared::status::Status;

use super::{col, PgTx};
use crate::store::{
    i64_of, status_of, u32_of, u64_of, ListState, ListsTx, StatusState, StatusStep, StoreError,
};

impl ListsTx for PgTx<'_> {
    fn trust_state(&mut self) -> Result<Option<ListState>, StoreError> {
        self.opt_row(
            "SELECT seq, issued_at FROM list_state WHERE list = 'trust' FOR UPDATE",
            &[],
        )?
        .map(|r| {
            Ok(ListState {
                seq: u64_of(col(&r, 0)?, "trust list seq")?,
                issued_at: col(&r, 1)?,
            })
        })
        .transpose()
    }

    fn set_trust_state(&mut self, s: ListState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at) VALUES ('trust', $1, $2)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at",
            &[&i64_of(s.seq, "trust list seq")?, &s.issued_at],
        )?;
        Ok(())
    }

    fn status_state(&mut self) -> Result<Option<StatusState>, StoreError> {
        self.opt_row(
            "SELECT seq, issued_at, next_index FROM list_state WHERE list = 'status' FOR UPDATE",
            &[],
        )?
        .map(|r| {
            Ok(StatusState {
                list: ListState {
                    seq: u64_of(col(&r, 0)?, "status list seq")?,
                    issued_at: col(&r, 1)?,
                },
                next_index: u32_of(col(&r, 2)?, "next status index")?,
            })
        })
        .transpose()
    }

    fn set_status_state(&mut self, s: StatusState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at, next_index) VALUES ('status', $1, $2, $3)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at,
                                              next_index = excluded.next_index",
            &[
                &i64_of(s.list.seq, "status list seq")?,
                &s.list.issued_at,
                &i64::from(s.next_index),
            ],
        )?;
        Ok(())
    }

    fn insert_status_step(&mut self, step: &StatusStep) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO status_steps (seq, issued_at, delta) VALUES ($1, $2, $3)",
            &[
                &i64_of(step.seq, "status step seq")?,
                &step.issued_at,
                &step.delta,
            ],
        )?;
        Ok(())
    }

    fn status_steps_after(&mut self, seq: u64) -> Result<Vec<StatusStep>, StoreError> {
        self.rows(
            "SELECT seq, issued_at, delta FROM status_steps WHERE seq > $1 ORDER BY seq",
            &[&i64_of(seq, "status seq")?],
        )?
        .iter()
        .map(|r| {
            Ok(StatusStep {
                seq: u64_of(col(r, 0)?, "status step seq")?,
                issued_at: col(r, 1)?,
                delta: col(r, 2)?,
            })
        })
        .collect()
    }

    fn oldest_delta_base(&mut self) -> Result<Option<u64>, StoreError> {
        let r = self.one_row("SELECT MIN(seq) FROM status_steps", &[])?;
        col::<Option<i64>>(&r, 0)?
            .map(|m| u64_of(m - 1, "status step seq"))
            .transpose()
    }

    fn non_valid(&mut self) -> Result<Vec<(u32, Status)>, StoreError> {
        self.rows(
            "SELECT status_index, status FROM certificate_versions WHERE status <> 0
             UNION ALL
             SELECT status_index, status FROM delegated_copies WHERE status <> 0
             ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| Ok((u32_of(col(r, 0)?, "status index")?, status_of(col(r, 1)?)?)))
        .collect()
    }
}
