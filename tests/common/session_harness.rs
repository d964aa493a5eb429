//! Session test harness (filled by the session work).
