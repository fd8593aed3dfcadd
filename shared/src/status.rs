//! STUB — replaced by the status-list implementation.
#![allow(missing_docs, clippy::all)]

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid = 0,
    Revoked = 1,
    Suspended = 2,
    Superseded = 3,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    #[error("bad")]
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList(Vec<u8>);
impl StatusList {
    pub fn new(len: usize) -> Self {
        Self(vec![0; len])
    }
    pub fn get(&self, i: usize) -> Option<Status> {
        self.0.get(i).map(|b| match b {
            1 => Status::Revoked,
            2 => Status::Suspended,
            3 => Status::Superseded,
            _ => Status::Valid,
        })
    }
    pub fn set(&mut self, i: usize, s: Status) -> Result<(), StatusError> {
        self.0[i] = s as u8;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub seq: u64,
    pub list: StatusList,
}
impl StatusSnapshot {
    pub fn to_cbor(&self) -> Vec<u8> {
        vec![]
    }
    pub fn from_cbor(_b: &[u8], _m: usize) -> Result<Self, StatusError> {
        Err(StatusError::Bad)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDelta {
    pub from_seq: u64,
    pub to_seq: u64,
    pub changes: Vec<(u32, Status)>,
}
impl StatusDelta {
    pub fn to_cbor(&self) -> Vec<u8> {
        vec![]
    }
    pub fn from_cbor(_b: &[u8], _m: usize) -> Result<Self, StatusError> {
        Err(StatusError::Bad)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCache {
    seq: u64,
    list: StatusList,
}
impl StatusCache {
    pub fn from_snapshot(s: StatusSnapshot) -> Self {
        Self {
            seq: s.seq,
            list: s.list,
        }
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn get(&self, i: usize) -> Option<Status> {
        self.list.get(i)
    }
    pub fn apply(&mut self, d: &StatusDelta) -> Result<(), StatusError> {
        for (i, s) in &d.changes {
            self.list.set(*i as usize, *s)?;
        }
        self.seq = d.to_seq;
        Ok(())
    }
}
