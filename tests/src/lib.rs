//! Fixture programs live in src/bin; the tests in tests/.
