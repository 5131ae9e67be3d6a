//! maiac: the TTIR → Maia-like compiler pipeline and the reference interpreter.
