//! The engine: process/fd state kept from events, rule evaluation over it, alerts.
