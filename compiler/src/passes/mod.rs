//! TTIR cleanup passes.
