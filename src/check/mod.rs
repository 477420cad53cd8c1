//! Checking recorded histories: linearizability against sequential models.
