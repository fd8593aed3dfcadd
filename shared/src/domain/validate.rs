//! STUB — the non-conformance checker (不规范数据).
