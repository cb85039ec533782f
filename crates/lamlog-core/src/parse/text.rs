//! Text-format platform and application lines.
